package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.digest;
import static dev.buckcache.storage.StoreFixture.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The disk tier's presence index (which keys are stored, in memory) against what the index
 * holds: built after open while writes and eviction run, kept through both, consulted by
 * findMissing. StoreFixture's audit at close checks that it holds exactly the indexed keys.
 */
class PresenceTest {
  @TempDir Path dir;
  private final Random random = new Random(21);

  private List<Digest> putBatches(TieredStore store, int blobs, int size) {
    var digests = new ArrayList<Digest>();
    var batch = new ArrayList<BlobStore.BatchBlob>();
    for (int i = 0; i < blobs; i++) {
      var bytes = randomBytes(random, size);
      var d = digest(bytes);
      digests.add(d);
      batch.add(new BlobStore.BatchBlob(d, ByteBuffer.wrap(bytes), false));
      if (batch.size() == 500 || i == blobs - 1) {
        assertThat(store.putAll(batch)).containsOnlyNulls();
        batch.clear();
      }
    }
    return digests;
  }

  @Test
  void builtAfterOpenWhileWritesAndEvictionRun_holdsEveryIndexedKey() throws Exception {
    try (var fx = new StoreFixture(dir, 48L << 20)) {
      var before = putBatches(fx.store, 30_000, 1024);
      fx.reopen(); // the presence scan starts now, over 30,000 keys
      var pool = Executors.newFixedThreadPool(2);
      try {
        // Writers at once, past the cleanup threshold, so eviction deletes keys the scan has
        // yet to reach (or has passed) while new keys arrive.
        var writes = new ArrayList<java.util.concurrent.Future<List<Digest>>>();
        for (int w = 0; w < 2; w++) {
          var own = new Random(w);
          writes.add(pool.submit(() -> {
            var out = new ArrayList<Digest>();
            for (int i = 0; i < 6_000; i++) {
              var bytes = randomBytes(own, 2048);
              var d = digest(bytes);
              fx.store.put(d, bytes);
              out.add(d);
            }
            return out;
          }));
        }
        var after = new ArrayList<Digest>();
        for (var f : writes) {
          after.addAll(f.get(2, TimeUnit.MINUTES));
        }
        assertThat(fx.audit().problems()).as("presence matches the index").isEmpty();
        assertThat(fx.store.stats().disk().evictedEntries()).as("eviction ran").isPositive();
        // The newest writes outlive eviction; a digest never stored is missing.
        var newest = after.subList(after.size() - 1000, after.size());
        assertThat(fx.store.findMissing(newest)).isEmpty();
        var never = new ArrayList<Digest>();
        for (int i = 0; i < 1000; i++) {
          never.add(digest(randomBytes(random, 100)));
        }
        assertThat(fx.store.findMissing(never)).containsExactlyElementsOf(never);
        var evicted = new ArrayList<>(fx.store.findMissing(before));
        assertThat(evicted).isNotEmpty();
        for (var d : evicted.subList(0, 100)) {
          assertThat(fx.store.contains(d)).isFalse();
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void afterReopen_findMissingAndContainsAnswerFromThePresenceIndex_asBefore() {
    try (var fx = new StoreFixture(dir, 256L << 20)) {
      var stored = putBatches(fx.store, 2_000, 700);
      fx.reopen();
      assertThat(fx.audit().problems()).isEmpty(); // waits for the scan
      var asked = new ArrayList<Digest>();
      var absent = new ArrayList<Digest>();
      for (int i = 0; i < stored.size(); i++) {
        asked.add(stored.get(i));
        var d = digest(randomBytes(random, 700));
        absent.add(d);
        asked.add(d);
      }
      assertThat(fx.store.findMissing(asked)).containsExactlyElementsOf(absent);
      assertThat(fx.store.contains(stored.get(7))).isTrue();
      assertThat(fx.store.contains(absent.get(7))).isFalse();
      // A wrong size is missing too: the index is asked, not only the fingerprints.
      var d = stored.get(3);
      assertThat(fx.store.findMissing(List.of(new Digest(d.function(), d.hash(), d.size() + 1))))
          .hasSize(1);
    }
  }
}
