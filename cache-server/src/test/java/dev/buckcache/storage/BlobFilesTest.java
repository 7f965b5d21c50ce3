package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.CHUNK;
import static dev.buckcache.storage.StoreFixture.compressibleBytes;
import static dev.buckcache.storage.StoreFixture.digest;
import static dev.buckcache.storage.StoreFixture.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Large incompressible blobs live in files of their own (blobs/ in the store): every read path
 * reads them back exactly, eviction and copy-forward keep files and index in step, and what a
 * crash leaves behind is cleaned up on open. The fixture's audit checks every file on close.
 */
class BlobFilesTest {
  @TempDir Path dir;
  private final Random random = new Random(14);

  private List<Path> files() {
    try (var list = Files.list(dir.resolve("blobs"))) {
      return list.sorted().toList();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void largeNoise_goesToAFile_andReadsBackFromEveryOffsetByEveryPath() throws Exception {
    try (var fx = new StoreFixture(dir, 64L << 20)) {
      var content = randomBytes(random, 5 * CHUNK + 17);
      fx.store.put(digest(content), content);
      assertThat(files()).hasSize(1);
      assertThat(Files.size(files().get(0))).isEqualTo(content.length);
      for (boolean reopened : new boolean[] {false, true}) {
        if (reopened) {
          fx.reopen();
        }
        assertThat(fx.store.getBytes(digest(content))).contains(content);
        for (long offset : new long[] {0, 1, CHUNK, 3 * CHUNK + 5, content.length - 1}) {
          var tail = Arrays.copyOfRange(content, (int) offset, content.length);
          try (var reader = fx.store.open(digest(content), offset).orElseThrow()) {
            var span = reader.fileSpan();
            assertThat(span).isNotNull();
            assertThat(span.position()).isEqualTo(offset);
            assertThat(span.count()).isEqualTo(content.length - offset);
            var got = ByteBuffer.allocate(tail.length);
            span.channel().read(got, span.position());
            assertThat(got.array()).isEqualTo(tail);
            assertThat(readAll(reader, true)).isEqualTo(tail);
          }
          try (var reader = fx.store.open(digest(content), offset).orElseThrow()) {
            assertThat(readAll(reader, false)).isEqualTo(tail);
          }
        }
        try (var reader = fx.store.open(digest(content), 0).orElseThrow()) {
          var out = new ByteArrayOutputStream();
          for (var c = reader.nextStored(); c != null; c = reader.nextStored()) {
            assertThat(c.encoding()).isEqualTo(StoredChunk.Encoding.RAW);
            out.write(c.bytes(), 0, c.bytes().length);
          }
          assertThat(out.toByteArray()).isEqualTo(content);
        }
      }
    }
  }

  @Test
  void compressibleOrSmall_staysInRocksDb() {
    try (var fx = new StoreFixture(dir, 64L << 20)) {
      var text = compressibleBytes(random, 6 * CHUNK);
      var shortNoise = randomBytes(random, 3 * CHUNK + 1);
      fx.store.put(digest(text), text);
      fx.store.put(digest(shortNoise), shortNoise);
      assertThat(files()).isEmpty();
      try (var reader = fx.store.open(digest(text), 0).orElseThrow()) {
        assertThat(reader.fileSpan()).isNull();
      }
      assertThat(fx.store.getBytes(digest(text))).contains(text);
      assertThat(fx.store.getBytes(digest(shortNoise))).contains(shortNoise);
    }
  }

  @Test
  void eviction_deletesTheFilesOfWhatItEvicts_andAFloodStaysWithinMaxSize() throws Exception {
    long max = 40L << 20;
    try (var fx = new StoreFixture(dir, max)) {
      var order = new ArrayList<byte[]>();
      for (int i = 0; i < 300; i++) { // 300 x 320 KiB: about 2.3 times max_size
        var content = randomBytes(random, 5 * CHUNK);
        fx.store.put(digest(content), content);
        order.add(content);
      }
      fx.store.disk().evictIfNeeded();
      assertThat(fx.store.stats().disk().evictedEntries()).isPositive();
      // No reads yet, so no copy-forward: one file per entry, none for what was evicted.
      long entries = fx.store.stats().disk().entries();
      assertThat(entries).isPositive().isLessThan(order.size());
      assertThat(files()).hasSize((int) entries);
      long onDisk = 0;
      for (var f : files()) {
        onDisk += Files.size(f);
      }
      assertThat(onDisk).isLessThanOrEqualTo(max);
      var last = order.get(order.size() - 1);
      assertThat(fx.store.getBytes(digest(last))).contains(last);
      assertThat(fx.store.contains(digest(order.get(0)))).isFalse();
    }
  }

  @Test
  void copyForward_ofAFileEntry_movesItToANewFile_andKeepsItReadable() {
    long max = 40L << 20;
    try (var fx = new StoreFixture(dir, max)) {
      var hot = randomBytes(random, 5 * CHUNK);
      fx.store.put(digest(hot), hot);
      // Fill past half the budget so the first entry is old enough to be copied when read.
      long budget = fx.store.stats().disk().budgetBytes();
      for (long written = 0; written < budget * 3 / 4; written += 5 * CHUNK) {
        var c = randomBytes(random, 5 * CHUNK);
        fx.store.put(digest(c), c);
      }
      var before = files().get(0);
      long refreshes = fx.store.stats().disk().refreshes();
      assertThat(fx.store.contains(digest(hot))).isTrue(); // old enough: schedules the copy
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (fx.store.stats().disk().refreshes() == refreshes && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertThat(fx.store.stats().disk().refreshes()).isEqualTo(refreshes + 1);
      // Half a budget more: eviction passes the old copy, and the moved one survives it.
      for (long written = 0; written < budget / 2; written += 5 * CHUNK) {
        var c = randomBytes(random, 5 * CHUNK);
        fx.store.put(digest(c), c);
      }
      fx.store.disk().evictIfNeeded();
      assertThat(fx.store.stats().disk().evictedEntries()).isPositive();
      assertThat(files()).doesNotContain(before);
      assertThat(fx.store.getBytes(digest(hot))).contains(hot);
    }
  }

  @Test
  void filesACrashLeftBehind_areDeletedOnOpen_othersKept() throws Exception {
    try (var fx = new StoreFixture(dir, 64L << 20)) {
      var content = randomBytes(random, 5 * CHUNK);
      fx.store.put(digest(content), content);
      var kept = files().get(0);
      // An upload cut off with its pending record and half its file, as a SIGKILL leaves it: the
      // store closes under it (closing does not finish or abort uploads).
      var writer = fx.store.newWriter(digest(randomBytes(random, 8 * CHUNK)));
      var half = randomBytes(random, 4 * CHUNK + 1);
      writer.write(half, 0, half.length);
      assertThat(files()).hasSize(2);
      fx.store.close();
      // A file no entry knows (evicted by a process that died before deleting it), and a stray.
      var blobs = dir.resolve("blobs");
      Files.write(blobs.resolve("987654321"), new byte[100]);
      Files.write(blobs.resolve("notes.txt"), new byte[1]);
      fx.store = fx.open();
      assertThat(files()).containsExactlyInAnyOrder(kept, blobs.resolve("notes.txt"));
      assertThat(fx.store.getBytes(digest(content))).contains(content);
      var fresh = randomBytes(random, 6 * CHUNK);
      fx.store.put(digest(fresh), fresh);
      assertThat(fx.store.getBytes(digest(fresh))).contains(fresh);
    }
  }

  private static byte[] readAll(BlobReader reader, boolean intoBuffers) {
    var out = new ByteArrayOutputStream();
    if (!intoBuffers) {
      for (var raw = reader.nextRaw(); raw != null; raw = reader.nextRaw()) {
        out.write(raw, 0, raw.length);
      }
      return out.toByteArray();
    }
    for (int n = 0; ; n++) {
      var into = n % 2 == 0 ? ByteBuffer.allocateDirect(reader.pieceRoom())
          : ByteBuffer.allocate(reader.pieceRoom() + 2).position(2);
      if (!reader.nextRaw(into)) {
        return out.toByteArray();
      }
      var piece = new byte[into.remaining()];
      into.get(piece);
      out.write(piece, 0, piece.length);
    }
  }
}
