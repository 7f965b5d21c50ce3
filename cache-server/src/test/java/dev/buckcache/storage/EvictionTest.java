package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.digest;
import static dev.buckcache.storage.StoreFixture.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvictionTest {
  private static final long MAX = 64L << 20;
  @TempDir Path dir;
  private final Random random = new Random(7);

  @Test
  void floodOfFourTimesMaxSize_staysUnderMaxOnDisk_andKeepsTheHotSet() {
    try (var fx = new StoreFixture(dir, MAX)) {
      var hot = new ArrayList<Digest>();
      for (int i = 0; i < 20; i++) {
        var content = randomBytes(random, 100 * 1024);
        hot.add(digest(content));
        fx.store.put(digest(content), content);
      }
      long written = 0;
      long peakDu = 0;
      int round = 0;
      while (written < 4 * MAX) {
        var content = randomBytes(random, 16 * 1024 + random.nextInt(240 * 1024));
        fx.store.put(digest(content), content);
        written += content.length;
        if (++round % 8 == 0) {
          assertThat(fx.store.findMissing(hot)).isEmpty();
          hot.forEach(d -> assertThat(fx.store.getBytes(d)).isPresent());
        }
        if (round % 20 == 0) {
          peakDu = Math.max(peakDu, StoreFixture.diskUsage(dir));
        }
      }
      var stats = fx.store.stats().disk();
      peakDu = Math.max(peakDu, StoreFixture.diskUsage(dir));
      assertThat(stats.evictedEntries()).isPositive();
      assertThat(stats.usedBytes()).isLessThanOrEqualTo(stats.budgetBytes());
      System.out.printf("flood: wrote %d bytes, peak du %d of max %d, evicted %d entries%n",
          written, peakDu, MAX, stats.evictedEntries());
      assertThat(peakDu).as("du of the data dir, sampled while writing").isLessThanOrEqualTo(MAX);
      assertThat(fx.store.findMissing(hot)).as("hot set after the flood").isEmpty();
    }
  }

  @Test
  void eviction_removesOldestFirst_downToTheThreshold() {
    try (var fx = new StoreFixture(dir, MAX)) {
      var order = new ArrayList<Digest>();
      long budget = fx.store.stats().disk().budgetBytes();
      long written = 0;
      while (written < budget - (256 << 10)) {
        var content = randomBytes(random, 128 * 1024);
        fx.store.put(digest(content), content);
        order.add(digest(content));
        written += content.length;
      }
      assertThat(fx.store.stats().disk().evictedEntries()).isZero();
      while (fx.store.stats().disk().evictedEntries() == 0) {
        var content = randomBytes(random, 128 * 1024);
        fx.store.put(digest(content), content);
        order.add(digest(content));
      }
      fx.store.disk().evictIfNeeded(); // waits for a round in progress
      var stats = fx.store.stats().disk();
      long threshold = (long) (stats.budgetBytes() * 0.8);
      assertThat(stats.usedBytes()).isBetween(threshold - (512 << 10), threshold + (256 << 10));
      var missing = fx.store.findMissing(order);
      assertThat(missing).isNotEmpty();
      // Exactly a prefix of the write order is gone.
      assertThat(order.subList(0, missing.size())).containsExactlyElementsOf(missing);
    }
  }

  @Test
  void evictedEntries_areGoneFromMemoryToo() {
    try (var fx = new StoreFixture(dir, MAX)) {
      var first = randomBytes(random, 1000);
      fx.store.put(digest(first), first);
      assertThat(fx.store.getBytes(digest(first))).isPresent();
      while (fx.store.stats().disk().evictedEntries() == 0) {
        var content = randomBytes(random, 256 * 1024);
        fx.store.put(digest(content), content);
      }
      fx.store.disk().evictIfNeeded();
      assertThat(fx.store.contains(digest(first))).isFalse();
      assertThat(fx.store.getBytes(digest(first))).isEmpty();
    }
  }

  @Test
  void actionCacheHits_keepTheirOutputsAlive_throughAFlood() {
    try (var fx = new StoreFixture(dir, MAX)) {
      var results = new ActionResults(fx.store, fx.store);
      var key = new AcKey("", dev.buckcache.digest.DigestFunction.SHA256, "cd".repeat(32));
      var result = build.bazel.remote.execution.v2.ActionResult.newBuilder();
      for (int i = 0; i < 10; i++) {
        var content = randomBytes(random, 100 * 1024);
        fx.store.put(digest(content), content);
        result.addOutputFilesBuilder().setPath("out/" + i).getDigestBuilder()
            .setHash(digest(content).hash()).setSizeBytes(content.length);
      }
      results.put(key, result.build());
      long written = 0;
      for (int round = 0; written < 4 * MAX; round++) {
        var content = randomBytes(random, 128 * 1024);
        fx.store.put(digest(content), content);
        written += content.length;
        if (round % 16 == 0) {
          assertThat(results.get(key).hit()).as("hit after %d bytes", written).isTrue();
        }
      }
      assertThat(fx.store.stats().disk().evictedEntries()).isPositive();
      assertThat(results.get(key).hit()).isTrue();
    }
  }
}
