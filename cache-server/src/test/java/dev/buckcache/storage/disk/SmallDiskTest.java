package dev.buckcache.storage.disk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.TieredStore;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rocksdb.FlushOptions;

/**
 * Real small disks (tmpfs) under a store left at the default max size of 10GB: the store must
 * keep within the disk by evicting, never wedge on RocksDB's own ENOSPC (flushes and compactions
 * need room), and recover in place after a full disk. CI runs a subset of the matrix;
 * {@code scripts/small-disk} runs all of it ({@code -Dbuckcache.smalldisk.matrix=full}).
 */
class SmallDiskTest {
  private static final long MAX_SIZE = 10_000_000_000L;
  @TempDir Path dir;

  static Stream<Arguments> cases() {
    if ("full".equals(System.getProperty("buckcache.smalldisk.matrix"))) {
      var all = new ArrayList<Arguments>();
      for (var disk : List.of("40m", "300m", "2g")) {
        for (int blob : new int[] {4 << 10, 1 << 20, 64 << 20}) {
          if (TmpfsMount.bytes(disk) / 4 >= blob) {
            all.add(Arguments.of(disk, blob));
          }
        }
      }
      return all.stream();
    }
    return Stream.of(Arguments.of("40m", 4 << 10), Arguments.of("40m", 1 << 20),
        Arguments.of("300m", 1 << 20), Arguments.of("300m", 64 << 20));
  }

  @ParameterizedTest(name = "{0} disk, {1}-byte blobs")
  @MethodSource("cases")
  void flood_threeTimesTheDisk_keepsSucceedingAndEvicting(String diskSize, int blobSize)
      throws Exception {
    try (var mount = TmpfsMount.mount(dir.resolve("fs"), diskSize)) {
      long disk = TmpfsMount.bytes(diskSize);
      var random = new Random(blobSize ^ disk);
      try (var store = open(mount.path())) {
        long written = 0;
        int refused = 0;
        int stored = 0;
        long started = System.nanoTime();
        var recent = new ArrayList<byte[]>();
        // Bounded: 3x the disk (1.6 million 4 KiB uploads at most, on the 2 GB disk).
        for (int i = 0; written < 3 * disk && i < 2_000_000; i++) {
          var blob = incompressible(random, blobSize);
          try {
            store.put(Digest.of(DigestFunction.SHA256, blob), blob);
            stored++;
            remember(recent, blob);
          } catch (StorageException.StoreFull e) {
            refused++;
            assertThat(refused).as("uploads refused (507) after %d stored: %s", stored,
                e.getMessage()).isLessThanOrEqualTo(3);
          }
          written += blob.length;
        }
        long ms = (System.nanoTime() - started) / 1_000_000;
        var stats = store.stats().disk();
        assertThat(stats.evictedEntries()).as("evictions").isPositive();
        // Afterwards, without a restart: new uploads succeed and the newest are all readable.
        for (int i = 0; i < 5; i++) {
          var blob = incompressible(random, blobSize);
          store.put(Digest.of(DigestFunction.SHA256, blob), blob);
          remember(recent, blob);
        }
        for (var blob : recent) {
          assertThat(store.getBytes(Digest.of(DigestFunction.SHA256, blob))).contains(blob);
        }
        long du = mount.used();
        System.out.printf("small disk %s, %d-byte blobs: wrote %d bytes (%d uploads, %d refused)"
                + " in %d ms; evicted %d entries; budget %d, used %d, filesystem used %d of %d%n",
            diskSize, blobSize, written, stored + refused, refused, ms, stats.evictedEntries(),
            stats.budgetBytes(), stats.usedBytes(), du, disk);
        assertThat(DiskAudit.run(store.disk()).problems()).isEmpty();
      }
    }
  }

  /**
   * Another program fills the disk and a flush meets ENOSPC: RocksDB stops writes with a
   * background error. Once the space is back, the store resumes by itself, without a restart.
   */
  @Test
  void backgroundErrorFromFullDisk_resumesInPlace_whenSpaceReturns() throws Exception {
    try (var mount = TmpfsMount.mount(dir.resolve("fs"), "40m")) {
      var random = new Random(5);
      try (var store = open(mount.path())) {
        var db = store.disk().db;
        for (int i = 0; i < 20; i++) {
          var blob = incompressible(random, 256 << 10);
          store.put(Digest.of(DigestFunction.SHA256, blob), blob);
        }
        var filler = mount.path().resolve("filler");
        fill(filler);
        // The memtable holds ~5 MB of chunks; flushing it needs room the disk no longer has.
        try (var flush = new FlushOptions().setWaitForFlush(true)) {
          db.db.flush(flush, db.data);
          throw new AssertionError("flush on a full disk succeeded: the test proves nothing");
        } catch (org.rocksdb.RocksDBException expected) {
          assertThat(expected.getMessage()).containsIgnoringCase("space");
        }
        Files.delete(filler);
        long started = System.nanoTime();
        var blob = incompressible(random, 256 << 10);
        var digest = Digest.of(DigestFunction.SHA256, blob);
        String last = null;
        // Bounded: 60 tries, half a second apart.
        for (int i = 0; i < 60 && !store.contains(digest); i++) {
          try {
            store.put(digest, blob);
          } catch (StorageException e) {
            last = e.getMessage();
            Thread.sleep(500);
          }
        }
        assertThat(store.contains(digest)).as("upload after the space returned; last error: %s",
            last).isTrue();
        System.out.printf("background error on a full disk: uploads resumed %d ms after the"
            + " space returned (last refusal: %s)%n", (System.nanoTime() - started) / 1_000_000,
            last);
        assertThat(store.getBytes(digest)).contains(blob);
        assertThat(DiskAudit.run(store.disk()).problems()).isEmpty();
      }
    }
  }

  private static TieredStore open(Path mountPoint) {
    return TieredStore.open(new DiskSettings(mountPoint.resolve("data"), MAX_SIZE, 0.8, true, 1,
        DiskSettings.DEFAULT_CHUNK_SIZE), 0, 1L << 40);
  }

  private static void remember(List<byte[]> recent, byte[] blob) {
    if (blob.length <= (1 << 20)) {
      recent.add(blob);
      if (recent.size() > 5) {
        recent.remove(0);
      }
    } else {
      recent.clear();
      recent.add(blob);
    }
  }

  private static byte[] incompressible(Random random, int size) {
    var blob = new byte[size];
    random.nextBytes(blob);
    return blob;
  }

  /** Writes until the filesystem says it is full. */
  static void fill(Path file) throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      var block = new byte[64 * 1024];
      for (long i = 0; i < (1L << 20); i++) { // bounded: 64 GB
        out.write(block);
      }
    } catch (IOException e) {
      if (!String.valueOf(e.getMessage()).contains("No space left")) {
        throw e;
      }
    }
  }
}
