package dev.buckcache.storage.disk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.StoreKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class PresenceIndexTest {
  private static StoreKey key(int n) {
    return StoreKey.cas(Digest.of(DigestFunction.SHA256,
        ("blob " + n).getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void followsAReferenceMultiset_throughGrowthShrinkingAndBackShiftedRemoves() {
    var index = new PresenceIndex();
    var reference = new HashMap<Long, Integer>();
    var random = new Random(14);
    // Few distinct fingerprints in a small range of low bits: long probe runs that wrap around
    // the end of a segment's table, which is where a wrong back-shift loses an entry.
    var fps = new long[4000];
    for (int i = 0; i < fps.length; i++) {
      fps[i] = i % 4 == 0 ? random.nextLong() | 1
          : ((long) random.nextInt(64) << 58) | (random.nextInt(256) + 1L)
              | ((long) random.nextInt(1 << 20) << 20);
    }
    for (int step = 0; step < 200_000; step++) {
      long fp = fps[random.nextInt(step < 100_000 ? fps.length : 200)];
      if (random.nextInt(3) > 0 || (step > 150_000 && random.nextInt(5) == 0)) {
        index.add(fp);
        reference.merge(fp, 1, Integer::sum);
      } else {
        index.remove(fp);
        reference.computeIfPresent(fp, (k, v) -> v == 1 ? null : v - 1);
      }
      if (step % 997 == 0) {
        for (long f : fps) {
          assertThat(index.mayContainFingerprint(f)).as("fingerprint %x at step %d", f, step)
              .isEqualTo(reference.containsKey(f));
        }
      }
    }
    assertThat(index.size()).isEqualTo(reference.values().stream().mapToLong(v -> v).sum());
    for (long f : fps) {
      while (reference.containsKey(f)) {
        index.remove(f);
        reference.computeIfPresent(f, (k, v) -> v == 1 ? null : v - 1);
      }
    }
    assertThat(index.size()).isZero();
    assertThat(index.bytes()).isLessThanOrEqualTo(64L * 64 * 8); // shrunk back to the minimum
  }

  @Test
  void aMillionKeys_noFalseNegatives_aboutSixteenBytesEach() {
    var index = new PresenceIndex();
    for (int i = 0; i < 1_000_000; i++) {
      index.add(PresenceIndex.fingerprint(key(i).bytes()));
    }
    for (int i = 0; i < 1_000_000; i++) {
      assertThat(index.mayContain(key(i))).isTrue();
    }
    int falsePositives = 0;
    for (int i = 1_000_000; i < 1_100_000; i++) {
      falsePositives += index.mayContain(key(i)) ? 1 : 0;
    }
    assertThat(falsePositives).isZero();
    assertThat(index.size()).isEqualTo(1_000_000);
    assertThat(index.bytes()).isBetween(10_000_000L, 22_000_000L);
  }

  @Test
  void readersDuringWrites_neverMissAKeyThatStays() throws Exception {
    var index = new PresenceIndex();
    var stays = new ArrayList<Long>();
    for (int i = 0; i < 20_000; i++) {
      long fp = PresenceIndex.fingerprint(key(i).bytes());
      index.add(fp);
      stays.add(fp);
    }
    var stop = new AtomicBoolean();
    var pool = Executors.newFixedThreadPool(3);
    try {
      // Churn that grows, shrinks and back-shifts the segments the readers probe.
      var churn = pool.submit(() -> {
        for (int round = 0; round < 20 && !stop.get(); round++) {
          for (int i = 0; i < 50_000; i++) {
            index.add(PresenceIndex.fingerprint(key(1_000_000 + i).bytes()));
          }
          for (int i = 0; i < 50_000; i++) {
            index.remove(PresenceIndex.fingerprint(key(1_000_000 + i).bytes()));
          }
        }
        stop.set(true);
      });
      var readers = new ArrayList<java.util.concurrent.Future<Long>>();
      for (int r = 0; r < 2; r++) {
        readers.add(pool.submit(() -> {
          long missed = 0;
          while (!stop.get()) {
            for (long fp : stays) {
              missed += index.mayContainFingerprint(fp) ? 0 : 1;
            }
          }
          return missed;
        }));
      }
      churn.get(2, TimeUnit.MINUTES);
      for (var reader : readers) {
        assertThat(reader.get(1, TimeUnit.MINUTES)).isZero();
      }
    } finally {
      stop.set(true);
      pool.shutdownNow();
    }
    assertThat(index.size()).isEqualTo(stays.size());
  }
}
