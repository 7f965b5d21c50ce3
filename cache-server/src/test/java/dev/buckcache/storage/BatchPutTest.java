package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.CHUNK;
import static dev.buckcache.storage.StoreFixture.compressibleBytes;
import static dev.buckcache.storage.StoreFixture.digest;
import static dev.buckcache.storage.StoreFixture.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TieredStore#putAll}: small blobs of a batch go to disk in one RocksDB write. */
class BatchPutTest {
  @TempDir Path dir;
  private final Random random = new Random(7);

  private static BlobStore.BatchBlob raw(Digest digest, byte[] content) {
    return new BlobStore.BatchBlob(digest, ByteBuffer.wrap(content), false);
  }

  private static BlobStore.BatchBlob raw(byte[] content) {
    return raw(digest(content), content);
  }

  @Test
  void putAll_mixedBatch_eachOutcomeAsAlone_allReadableAfterReopen() {
    try (var fx = new StoreFixture(dir, 256L << 20)) {
      var small = compressibleBytes(random, 1000);
      var random30k = randomBytes(random, 30_000);
      var stored = randomBytes(random, 500);
      fx.store.put(digest(stored), stored);
      var wrongHash = randomBytes(random, 300);
      var shortData = randomBytes(random, 400);
      var zstdContent = compressibleBytes(random, 5000);
      var large = compressibleBytes(random, 3 * CHUNK + 5);
      var batch = List.of(
          raw(small),
          raw(random30k),
          raw(stored),
          raw(digest(randomBytes(random, 300)), wrongHash),
          raw(new Digest(DigestFunction.SHA256, digest(shortData).hash(), 401), shortData),
          new BlobStore.BatchBlob(digest(zstdContent),
              ByteBuffer.wrap(com.github.luben.zstd.Zstd.compress(zstdContent)), true),
          raw(large),
          raw(small), // the same blob twice in one batch
          raw(new byte[0]));
      long entriesBefore = fx.store.stats().disk().entries();

      var outcomes = fx.store.putAll(batch);

      assertThat(outcomes).hasSize(batch.size());
      for (int i : List.of(0, 1, 2, 5, 6, 7, 8)) {
        assertThat(outcomes.get(i)).as("blob %d", i).isNull();
      }
      assertThat(outcomes.get(3)).isInstanceOf(StorageException.ContentMismatch.class)
          .hasMessageContaining("content hashes to " + digest(wrongHash).hash());
      assertThat(outcomes.get(4)).isInstanceOf(StorageException.ContentMismatch.class)
          .hasMessageContaining("400 bytes");
      // small, random30k, zstdContent and large are new; stored was there; the rest are not kept.
      assertThat(fx.store.stats().disk().entries()).isEqualTo(entriesBefore + 4);
      assertThat(fx.store.peek(DigestFunction.SHA256, digest(small).hash())).isEqualTo(small);
      assertThat(fx.store.contains(digest(wrongHash))).isFalse();

      fx.reopen();
      for (var content : List.of(small, random30k, stored, zstdContent, large)) {
        assertThat(fx.store.getBytes(digest(content))).contains(content);
      }
      assertThat(fx.store.contains(digest(randomBytes(random, 300)))).isFalse();
      assertThat(fx.store.stats().disk().entries()).isEqualTo(entriesBefore + 4);
    }
  }

  @Test
  void putAll_blake3ContentAgainstSha256Digest_saysWhichFunctionItHashesUnder() {
    try (var fx = new StoreFixture(dir, 256L << 20)) {
      var content = randomBytes(random, 2000);
      var blake3 = Digest.of(DigestFunction.BLAKE3, content);
      var asSha256 = new Digest(DigestFunction.SHA256, blake3.hash(), content.length);

      var outcomes = fx.store.putAll(List.of(raw(asSha256, content)));

      assertThat(outcomes.get(0)).isInstanceOf(StorageException.ContentMismatch.class)
          .hasMessageContaining("it does hash to that under BLAKE3");
    }
  }

  @Test
  void putAll_overTheLimit_tooLargeForThatBlobOnly() {
    try (var fx = new StoreFixture(dir, 256L << 20)) {
      fx.store.close();
      fx.store = TieredStore.open(fx.settings(), 8L << 20, 1000);
      var fits = randomBytes(random, 1000);
      var over = randomBytes(random, 1001);

      var outcomes = fx.store.putAll(List.of(raw(over), raw(fits)));

      assertThat(outcomes.get(0)).isInstanceOf(StorageException.TooLarge.class);
      assertThat(outcomes.get(1)).isNull();
      assertThat(fx.store.getBytes(digest(fits))).contains(fits);
      assertThat(fx.store.contains(digest(over))).isFalse();
    }
  }

  /**
   * Batches lock the stripes of all their keys at once while the evictor locks those of what it
   * evicts. Batches here share keys in opposite orders in a store that keeps evicting; locks taken
   * in any order but one would deadlock. The store's accounting must hold afterwards (the
   * fixture's audit).
   */
  @Test
  void putAll_concurrentBatchesSharingKeys_underEviction_noDeadlock_accountingHolds()
      throws Exception {
    var pool = new ArrayList<byte[]>();
    for (int i = 0; i < 400; i++) {
      pool.add(randomBytes(random, 8_000 + random.nextInt(8_000)));
    }
    try (var fx = new StoreFixture(dir, 32L << 20)) {
      var threads = Executors.newFixedThreadPool(4);
      try {
        var done = new ArrayList<Future<?>>();
        for (int t = 0; t < 4; t++) {
          long seed = t;
          done.add(threads.submit(() -> {
            var mine = new ArrayList<>(pool);
            var r = new Random(seed);
            for (int round = 0; round < 40; round++) {
              Collections.shuffle(mine, r);
              if (round % 2 == 1) {
                Collections.reverse(mine);
              }
              var batch = new ArrayList<BlobStore.BatchBlob>();
              for (var content : mine.subList(0, 120)) {
                batch.add(raw(content));
              }
              var outcomes = fx.store.putAll(batch);
              assertThat(outcomes).containsOnlyNulls();
              // fresh content too, so the store keeps filling and evicting
              var fresh = new ArrayList<BlobStore.BatchBlob>();
              for (int i = 0; i < 60; i++) {
                fresh.add(raw(randomBytes(r, 12_000)));
              }
              assertThat(fx.store.putAll(fresh)).containsOnlyNulls();
            }
            return null;
          }));
        }
        Assertions.assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
          for (var f : done) {
            f.get();
          }
        });
      } finally {
        threads.shutdownNow();
      }
      assertThat(fx.store.stats().disk().evictedEntries()).as("eviction ran").isPositive();
      var last = pool.get(0);
      fx.store.put(digest(last), last);
      assertThat(fx.store.getBytes(digest(last))).contains(last);
    }
  }
}
