package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.CHUNK;
import static dev.buckcache.storage.StoreFixture.compressibleBytes;
import static dev.buckcache.storage.StoreFixture.digest;
import static dev.buckcache.storage.StoreFixture.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class TieredStoreTest {
  @TempDir Path dir;
  private StoreFixture fx;
  private final Random random = new Random(42);

  @BeforeEach
  void open() {
    fx = new StoreFixture(dir, 256L << 20);
  }

  @AfterEach
  void close() {
    fx.close();
  }

  @ParameterizedTest
  @EnumSource(DigestFunction.class)
  void put_eachDigestFunction_roundTrips(DigestFunction fn) {
    var small = compressibleBytes(random, 1000);
    var large = randomBytes(random, 3 * CHUNK + 17);
    for (var content : List.of(small, large)) {
      var digest = Digest.of(fn, content);
      fx.store.put(digest, content);
      assertThat(fx.store.contains(digest)).isTrue();
      assertThat(fx.store.getBytes(digest)).contains(content);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK})
  void put_sizesAroundChunkBoundaries_roundTripAfterReopen(int size) {
    var content = compressibleBytes(random, size);
    var digest = digest(content);
    fx.store.put(digest, content);
    fx.reopen();
    assertThat(fx.store.getBytes(digest)).contains(content);
  }

  /** Found by SameKeysConcurrencyTest: the memory tier once cached such a blob's tail as the whole. */
  @Test
  void upload_firstPieceOverTheMemoryLimit_lastPieceUnder_memoryNeverHoldsAPart() {
    var content = randomBytes(random, 100_000); // the fixture's memory tier takes up to 64 KiB
    var digest = digest(content);
    var writer = fx.store.newWriter(digest);
    writer.write(content, 0, 80_000);
    writer.write(content, 80_000, 20_000);
    writer.commit();
    var cached = fx.store.peek(digest.function(), digest.hash());
    assertThat(cached == null || java.util.Arrays.equals(cached, content)).as("memory tier copy").isTrue();
    assertThat(fx.store.getBytes(digest)).contains(content);
    var small = randomBytes(random, 30_000);
    var smallDigest = digest(small);
    var w = fx.store.newWriter(smallDigest);
    w.write(small, 0, 10_000);
    w.write(small, 10_000, 20_000);
    w.commit();
    assertThat(fx.store.peek(smallDigest.function(), smallDigest.hash())).isEqualTo(small);
  }

  @Test
  void knownVectors_matchPublishedHashes() {
    var abc = "abc".getBytes(StandardCharsets.UTF_8);
    assertThat(DigestFunction.SHA256.hash(abc))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assertThat(DigestFunction.SHA1.hash(abc)).isEqualTo("a9993e364706816aba3e25717850c26c9cd0d89d");
    assertThat(DigestFunction.BLAKE3.hash(new byte[0]))
        .isEqualTo("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  }

  @Test
  void put_wrongHash_rejectedAndNothingStored() {
    var content = randomBytes(random, 2 * CHUNK + 5);
    var wrong = new Digest(DigestFunction.SHA256, DigestFunction.SHA256.hash(new byte[] {1}),
        content.length);
    assertThatThrownBy(() -> fx.store.put(wrong, content))
        .isInstanceOf(StorageException.ContentMismatch.class)
        .hasMessageContaining("hashes to");
    assertThat(fx.store.contains(wrong)).isFalse();
    assertThat(fx.store.stats().disk().entries()).isZero();
  }

  @Test
  void put_fewerBytesThanDeclared_rejectedAndNothingStored() {
    var content = randomBytes(random, 1000);
    var declared = new Digest(DigestFunction.SHA256, digest(content).hash(), 1001);
    assertThatThrownBy(() -> fx.store.put(declared, content))
        .isInstanceOf(StorageException.ContentMismatch.class)
        .hasMessageContaining("received 1000 bytes");
    assertThat(fx.store.contains(declared)).isFalse();
  }

  @Test
  void put_moreBytesThanDeclared_failsBeforeStoring() {
    var content = randomBytes(random, 3 * CHUNK);
    var declared = new Digest(DigestFunction.SHA256, digest(content).hash(), CHUNK);
    try (var writer = fx.store.newWriter(declared)) {
      assertThatThrownBy(() -> writer.write(content, 0, content.length))
          .isInstanceOf(StorageException.ContentMismatch.class)
          .hasMessageContaining("more than");
    }
    assertThat(fx.store.stats().disk().entries()).isZero();
  }

  @Test
  void writer_closedWithoutCommit_leavesNothingReadable() {
    var content = randomBytes(random, 4 * CHUNK);
    var digest = digest(content);
    try (var writer = fx.store.newWriter(digest)) {
      writer.write(ByteBuffer.wrap(content, 0, 3 * CHUNK));
    }
    assertThat(fx.store.contains(digest)).isFalse();
    assertThat(fx.store.open(digest, 0)).isEmpty();
  }

  @Test
  void openReadersAndWriters_countedFromOpenToFirstClose() {
    var content = randomBytes(random, 3 * CHUNK);
    var digest = digest(content);
    var writer = fx.store.newWriter(digest);
    assertThat(fx.store.openWriters()).isEqualTo(1);
    writer.write(content, 0, content.length);
    writer.commit();
    assertThat(fx.store.openWriters()).as("a commit ends the writer").isZero();
    writer.close();
    assertThat(fx.store.openWriters()).as("close after commit: no double count").isZero();

    var aborted = fx.store.newWriter(digest(randomBytes(random, 2 * CHUNK)));
    aborted.close();
    aborted.close();
    assertThat(fx.store.openWriters()).isZero();

    var reader = fx.store.open(digest, 0).orElseThrow();
    var second = fx.store.open(digest, 0).orElseThrow();
    assertThat(fx.store.openReaders()).isEqualTo(2);
    reader.close();
    reader.close();
    assertThat(fx.store.openReaders()).as("close is idempotent").isEqualTo(1);
    second.close();
    assertThat(fx.store.openReaders()).isZero();
    assertThat(fx.store.stats().openReaders()).isZero();
    assertThat(fx.store.stats().openWriters()).isZero();
  }

  @Test
  void emptyBlob_isAlwaysPresent() {
    var empty = Digest.of(DigestFunction.SHA256, new byte[0]);
    assertThat(fx.store.contains(empty)).isTrue();
    assertThat(fx.store.findMissing(List.of(empty))).isEmpty();
    assertThat(fx.store.getBytes(empty)).contains(new byte[0]);
    fx.store.put(empty, new byte[0]);
  }

  @Test
  void findMissing_reportsOnlyAbsent_inRequestOrder() {
    var present = randomBytes(random, 10);
    fx.store.put(digest(present), present);
    var absent1 = digest(randomBytes(random, 11));
    var absent2 = digest(randomBytes(random, 12));
    assertThat(fx.store.findMissing(List.of(absent1, digest(present), absent2)))
        .containsExactly(absent1, absent2);
  }

  @Test
  void open_atOffset_returnsTheTail() {
    var content = compressibleBytes(random, 3 * CHUNK + 100);
    var digest = digest(content);
    fx.store.put(digest, content);
    for (long offset : new long[] {0, 1, CHUNK, CHUNK + 5, content.length - 1, content.length}) {
      try (var reader = fx.store.open(digest, offset).orElseThrow()) {
        var out = new java.io.ByteArrayOutputStream();
        for (var raw = reader.nextRaw(); raw != null; raw = reader.nextRaw()) {
          out.write(raw, 0, raw.length);
        }
        assertThat(out.toByteArray())
            .isEqualTo(java.util.Arrays.copyOfRange(content, (int) offset, content.length));
      }
    }
    assertThatThrownBy(() -> fx.store.open(digest, content.length + 1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void open_intoBuffers_readsWhatNextRawReads_rawAndCompressedChunks() {
    // chunk by chunk: compressible, noise, compressible, then a short noise tail
    var content = new byte[3 * CHUNK + 100];
    System.arraycopy(compressibleBytes(random, CHUNK), 0, content, 0, CHUNK);
    System.arraycopy(randomBytes(random, CHUNK), 0, content, CHUNK, CHUNK);
    System.arraycopy(compressibleBytes(random, CHUNK), 0, content, 2 * CHUNK, CHUNK);
    System.arraycopy(randomBytes(random, 100), 0, content, 3 * CHUNK, 100);
    var small = randomBytes(random, 1000);
    fx.store.put(digest(content), content);
    fx.store.put(digest(small), small);
    for (boolean fromDisk : new boolean[] {false, true}) {
      if (fromDisk) {
        fx.reopen();
      }
      for (var blob : List.of(content, small)) {
        for (long offset : new long[] {0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 7, blob.length - 1}) {
          if (offset >= blob.length) {
            continue;
          }
          try (var reader = fx.store.open(digest(blob), offset).orElseThrow()) {
            var out = new java.io.ByteArrayOutputStream();
            for (int n = 0; ; n++) {
              // direct buffers, and a heap buffer that does not start at 0
              var into = n % 2 == 0 ? ByteBuffer.allocateDirect(reader.pieceRoom())
                  : ByteBuffer.allocate(reader.pieceRoom() + 3).position(3);
              if (!reader.nextRaw(into)) {
                break;
              }
              var piece = new byte[into.remaining()];
              into.get(piece);
              out.write(piece, 0, piece.length);
            }
            assertThat(out.toByteArray()).as("%d bytes from %d, from disk %s", blob.length,
                offset, fromDisk)
                .isEqualTo(java.util.Arrays.copyOfRange(blob, (int) offset, blob.length));
          }
        }
      }
    }
  }

  @Test
  void storedChunks_compressibleAfterIncompressible_stillCompressed() {
    // after a chunk of noise a chunk is tried on a sample first; text must still be compressed
    // (three chunks: from four, a blob that starts with noise goes to a file)
    var content = new byte[3 * CHUNK];
    System.arraycopy(randomBytes(random, CHUNK), 0, content, 0, CHUNK);
    System.arraycopy(compressibleBytes(random, CHUNK), 0, content, CHUNK, CHUNK);
    System.arraycopy(randomBytes(random, CHUNK), 0, content, 2 * CHUNK, CHUNK);
    fx.store.put(digest(content), content);
    fx.reopen();
    var encodings = new ArrayList<StoredChunk.Encoding>();
    try (var reader = fx.store.open(digest(content), 0).orElseThrow()) {
      for (var chunk = reader.nextStored(); chunk != null; chunk = reader.nextStored()) {
        encodings.add(chunk.encoding());
      }
    }
    assertThat(encodings).containsExactly(StoredChunk.Encoding.RAW, StoredChunk.Encoding.ZSTD,
        StoredChunk.Encoding.RAW);
    assertThat(fx.store.getBytes(digest(content))).contains(content);
  }

  @Test
  void storedChunks_compressibleAsZstd_incompressibleRaw() {
    var text = compressibleBytes(random, 2 * CHUNK);
    var noise = randomBytes(random, 2 * CHUNK);
    fx.store.put(digest(text), text);
    fx.store.put(digest(noise), noise);
    fx.reopen(); // read from disk, not memory
    try (var reader = fx.store.open(digest(text), 0).orElseThrow()) {
      var chunk = reader.nextStored();
      assertThat(chunk.encoding()).isEqualTo(StoredChunk.Encoding.ZSTD);
      assertThat(chunk.bytes().length).isLessThan(CHUNK * 3 / 4);
      assertThat(com.github.luben.zstd.Zstd.decompress(chunk.bytes(), CHUNK))
          .isEqualTo(java.util.Arrays.copyOf(text, CHUNK));
    }
    try (var reader = fx.store.open(digest(noise), 0).orElseThrow()) {
      assertThat(reader.nextStored().encoding()).isEqualTo(StoredChunk.Encoding.RAW);
    }
  }

  @Test
  void put_sameBlobTwice_storedOnce() {
    var content = randomBytes(random, 2 * CHUNK);
    fx.store.put(digest(content), content);
    long used = fx.store.stats().disk().usedBytes();
    fx.store.put(digest(content), content);
    assertThat(fx.store.stats().disk().usedBytes()).isEqualTo(used);
    assertThat(fx.store.stats().disk().entries()).isEqualTo(1);
  }

  @Test
  void put_sameBlobTwice_secondWithWrongContent_stillRejected() {
    var content = randomBytes(random, 100);
    fx.store.put(digest(content), content);
    var other = randomBytes(random, 100);
    assertThatThrownBy(() -> fx.store.put(digest(content), other))
        .isInstanceOf(StorageException.ContentMismatch.class);
    assertThat(fx.store.getBytes(digest(content))).contains(content);
  }

  @Test
  void newWriter_overMaxBlobSize_tooLarge() {
    fx.store.close();
    fx.store = TieredStore.open(fx.settings(), 1 << 20, 1000);
    var digest = new Digest(DigestFunction.SHA256, "a".repeat(64), 1001);
    assertThatThrownBy(() -> fx.store.newWriter(digest))
        .isInstanceOf(StorageException.TooLarge.class)
        .hasMessageContaining("max_blob_size");
  }

  @Test
  void actionCache_perInstance_lastWriteWins_kindsKept() {
    var a = new AcKey("", DigestFunction.SHA256, "1".repeat(64));
    var b = new AcKey("other", DigestFunction.SHA256, "1".repeat(64));
    fx.store.put(a, new AcEntry(AcEntry.Kind.RAW, new byte[] {1, 2, 3}));
    assertThat(fx.store.get(b)).isEmpty();
    fx.store.put(a, new AcEntry(AcEntry.Kind.ACTION_RESULT, new byte[] {4}));
    fx.reopen();
    var got = fx.store.get(a).orElseThrow();
    assertThat(got.kind()).isEqualTo(AcEntry.Kind.ACTION_RESULT);
    assertThat(got.value()).containsExactly(4);
    assertThat(fx.store.stats().disk().entries()).isEqualTo(1);
  }

  @Test
  void actionCache_emptyAndLargeValues_roundTrip() {
    var empty = new AcKey("i", DigestFunction.SHA256, "2".repeat(64));
    var large = new AcKey("i", DigestFunction.SHA256, "3".repeat(64));
    var big = randomBytes(random, 3 * CHUNK);
    fx.store.put(empty, new AcEntry(AcEntry.Kind.ACTION_RESULT, new byte[0]));
    fx.store.put(large, new AcEntry(AcEntry.Kind.RAW, big));
    fx.reopen();
    assertThat(fx.store.get(empty).orElseThrow().value()).isEmpty();
    assertThat(fx.store.get(large).orElseThrow().value()).isEqualTo(big);
  }

  @Test
  void reopen_keepsEntriesAndAccounting() {
    for (int i = 0; i < 200; i++) {
      var content = compressibleBytes(random, 1 + random.nextInt(3 * CHUNK));
      fx.store.put(digest(content), content);
    }
    var before = fx.store.stats().disk();
    fx.reopen();
    var after = fx.store.stats().disk();
    assertThat(after.entries()).isEqualTo(200);
    assertThat(after.usedBytes()).isEqualTo(before.usedBytes());
  }

  @Test
  void uploadInterruptedByShutdown_leavesNothingReadable_andItsSpaceIsAccounted() {
    // compressible: chunks in RocksDB (noise this large goes to a file: see BlobFilesTest)
    var content = compressibleBytes(random, 5 * CHUNK);
    var digest = digest(content);
    var writer = fx.store.newWriter(digest); // never committed nor closed: as if the JVM died
    writer.write(content, 0, 4 * CHUNK);
    fx.reopen();
    assertThat(fx.store.contains(digest)).isFalse();
    var stats = fx.store.stats().disk();
    assertThat(stats.usedBytes()).as("dead chunks counted until eviction drops them")
        .isGreaterThan(CHUNK);
    assertThat(stats.entries()).isZero();
    fx.store.put(digest, content);
    assertThat(fx.store.getBytes(digest)).contains(content);
  }

  @Test
  void rightHashWrongSize_isAMiss_everywhere() {
    var content = randomBytes(random, 2 * CHUNK);
    fx.store.put(digest(content), content);
    var wrongSize = new Digest(DigestFunction.SHA256, digest(content).hash(), content.length - 1);
    assertThat(fx.store.contains(wrongSize)).isFalse();
    assertThat(fx.store.findMissing(List.of(wrongSize))).containsExactly(wrongSize);
    assertThat(fx.store.open(wrongSize, 0)).isEmpty();
    var small = randomBytes(random, 10); // memory tier path
    fx.store.put(digest(small), small);
    var smallWrong = new Digest(DigestFunction.SHA256, digest(small).hash(), 11);
    assertThat(fx.store.contains(smallWrong)).isFalse();
    assertThat(fx.store.open(smallWrong, 0)).isEmpty();
  }

  @Test
  void openHash_withoutSize_findsBothTiers() {
    var content = randomBytes(random, 3 * CHUNK);
    fx.store.put(digest(content), content);
    try (var reader = fx.store.openHash(DigestFunction.SHA256, digest(content).hash()).orElseThrow()) {
      assertThat(reader.size()).isEqualTo(content.length);
    }
    var small = randomBytes(random, 10);
    fx.store.put(digest(small), small);
    assertThat(fx.store.peek(DigestFunction.SHA256, digest(small).hash())).isEqualTo(small);
    assertThat(fx.store.peek(DigestFunction.SHA256, digest(content).hash())).isNull();
    assertThat(fx.store.openHash(DigestFunction.SHA256, "0".repeat(64))).isEmpty();
  }
  @Test
  void put_blake3ContentUnderSha256Digest_hintsAtDigestInstances() {
    var content = randomBytes(random, 1000);
    var blake3 = DigestFunction.BLAKE3.hash(content);
    var asSha256 = new Digest(DigestFunction.SHA256, blake3, content.length);
    assertThatThrownBy(() -> fx.store.put(asSha256, content))
        .isInstanceOf(StorageException.ContentMismatch.class)
        .hasMessageContaining("content hashes to " + DigestFunction.SHA256.hash(content) + " under SHA-256")
        .hasMessageContaining("not to the digest's " + blake3)
        .hasMessageContaining("it does hash to that under BLAKE3")
        .hasMessageContaining("--digest-instances NAME=blake3")
        .message().doesNotContain("\n");
    assertThat(fx.store.contains(asSha256)).isFalse();
  }

  @Test
  void put_sha256ContentUnderBlake3Digest_hintsAtSha256() {
    var content = randomBytes(random, 1000);
    var sha256 = DigestFunction.SHA256.hash(content);
    var asBlake3 = new Digest(DigestFunction.BLAKE3, sha256, content.length);
    assertThatThrownBy(() -> fx.store.put(asBlake3, content))
        .isInstanceOf(StorageException.ContentMismatch.class)
        .hasMessageContaining("under BLAKE3, not to the digest's " + sha256)
        .hasMessageContaining("it does hash to that under SHA-256")
        .hasMessageContaining("--digest-instances NAME=sha256");
  }

  @Test
  void put_largeBlake3BlobUnderSha256Digest_hintsWithoutRehashing() {
    var content = randomBytes(random, 9 << 20); // over what the memory tier keeps a copy of
    var asSha256 = new Digest(DigestFunction.SHA256, DigestFunction.BLAKE3.hash(content), content.length);
    assertThatThrownBy(() -> fx.store.put(asSha256, content))
        .isInstanceOf(StorageException.ContentMismatch.class)
        .hasMessageContaining("under SHA-256, not to the digest's")
        .hasMessageContaining("if this client uses BLAKE3, set --digest-instances NAME=blake3");
  }

  @Test
  void put_wrongContentSmall_saysNeitherFunctionMatches() {
    var content = randomBytes(random, 100);
    var wrong = new Digest(DigestFunction.SHA256, "ab".repeat(32), content.length);
    assertThatThrownBy(() -> fx.store.put(wrong, content))
        .isInstanceOf(StorageException.ContentMismatch.class)
        .hasMessageContaining("nor under BLAKE3")
        .message().doesNotContain("--digest-instances");
  }
}
