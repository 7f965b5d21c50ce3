package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.digest;
import static dev.buckcache.storage.StoreFixture.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many threads, random operations, eviction running; then every invariant is checked. */
class ConcurrencyStressTest {
  @TempDir Path dir;

  @Test
  void randomOperations_withEviction_neverReturnWrongBytes() throws Exception {
    var random = new Random(1);
    var blobs = new ArrayList<byte[]>();
    for (int i = 0; i < 400; i++) {
      blobs.add(randomBytes(random, 1 + random.nextInt(300 * 1024)));
    }
    var digests = blobs.stream().map(StoreFixture::digest).toList();
    var errors = new ConcurrentLinkedQueue<String>();
    try (var fx = new StoreFixture(dir, 40L << 20)) {
      var pool = Executors.newFixedThreadPool(8);
      var futures = new ArrayList<Future<?>>();
      for (int t = 0; t < 8; t++) {
        long seed = t;
        futures.add(pool.submit(() -> run(fx.store, blobs, digests, new Random(seed), errors)));
      }
      for (var f : futures) {
        f.get(5, TimeUnit.MINUTES);
      }
      pool.shutdown();
      assertThat(errors).isEmpty();
      fx.store.disk().evictIfNeeded();
      assertThat(fx.store.stats().disk().evictedEntries()).as("eviction ran").isPositive();
      for (int i = 0; i < blobs.size(); i++) {
        var got = fx.store.getBytes(digests.get(i));
        if (got.isPresent()) {
          assertThat(got.get()).isEqualTo(blobs.get(i));
        }
      }
    }
  }

  private static void run(TieredStore store, List<byte[]> blobs, List<Digest> digests,
      Random random, ConcurrentLinkedQueue<String> errors) {
    for (int op = 0; op < 1500; op++) {
      int i = random.nextInt(blobs.size());
      try {
        switch (random.nextInt(5)) {
          case 0, 1 -> store.put(digests.get(i), blobs.get(i));
          case 2 -> {
            var got = store.getBytes(digests.get(i));
            if (got.isPresent() && !java.util.Arrays.equals(got.get(), blobs.get(i))) {
              errors.add("wrong bytes for " + digests.get(i));
            }
          }
          case 3 -> store.findMissing(digests.subList(i, Math.min(i + 100, digests.size())));
          default -> actionCache(store, i, random);
        }
      } catch (RuntimeException e) {
        errors.add(e.toString());
      }
    }
  }

  /** AC values name their key, so a torn or crossed value is detectable. */
  private static void actionCache(TieredStore store, int i, Random random) {
    var key = new AcKey("stress", DigestFunction.SHA256, DigestFunction.SHA256.hash(("key-" + i).getBytes(StandardCharsets.UTF_8)));
    if (random.nextBoolean()) {
      store.put(key, new AcEntry(AcEntry.Kind.RAW, ("value-" + i).getBytes(StandardCharsets.UTF_8)));
    } else {
      store.get(key).ifPresent(e -> {
        if (!new String(e.value(), StandardCharsets.UTF_8).equals("value-" + i)) {
          throw new IllegalStateException("AC value crossed: " + new String(e.value(), StandardCharsets.UTF_8));
        }
      });
    }
  }

  @Test
  void concurrentPutsOfOneLargeBlob_storeItOnce() throws Exception {
    var content = randomBytes(new Random(2), 5 * StoreFixture.CHUNK + 3);
    try (var fx = new StoreFixture(dir, 64L << 20)) {
      var barrier = new CyclicBarrier(6);
      var pool = Executors.newFixedThreadPool(6);
      var futures = new ArrayList<Future<?>>();
      for (int t = 0; t < 6; t++) {
        futures.add(pool.submit(() -> {
          barrier.await();
          fx.store.put(digest(content), content);
          return null;
        }));
      }
      for (var f : futures) {
        f.get(1, TimeUnit.MINUTES);
      }
      pool.shutdown();
      assertThat(fx.store.stats().disk().entries()).isEqualTo(1);
      assertThat(fx.store.getBytes(digest(content))).contains(content);
    }
  }
}
