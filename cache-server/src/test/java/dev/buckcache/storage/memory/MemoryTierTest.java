package dev.buckcache.storage.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.storage.StoreKey;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class MemoryTierTest {
  private static final byte KIND = 1;

  private static StoreKey key(int n) {
    return StoreKey.wrap(ByteBuffer.allocate(8).putInt(0x7e57).putInt(n).array());
  }

  /** Bytes that say which key and which version they belong to, so a torn or freed read shows. */
  private static byte[] content(int key, int version, int length) {
    var b = ByteBuffer.allocate(length);
    var random = new Random(31L * key + version);
    while (b.remaining() >= 8) {
      b.putInt(key).putInt(version);
      if (b.remaining() >= 8) {
        b.putLong(random.nextLong());
      }
    }
    return b.array();
  }

  private static boolean isVersionOf(byte[] bytes, int key, int length) {
    if (bytes.length != length) {
      return false;
    }
    int version = ByteBuffer.wrap(bytes).getInt(4);
    return java.util.Arrays.equals(bytes, content(key, version, length));
  }

  @Test
  void entries_liveOffTheHeap_andAreFreedWhenEvictedInvalidatedReplacedOrClosed() {
    var tier = new MemoryTier(64 * 1024, 8 * 1024, Runnable::run);
    tier.put(key(1), KIND, content(1, 0, 4096), 4096, 7);
    tier.put(key(2), KIND, content(2, 0, 5000), 3000, 8); // only the first 3000 bytes count
    assertThat(tier.nativeBytes()).isEqualTo(4096 + 3000);
    var hit = tier.get(key(2));
    assertThat(hit.kind()).isEqualTo(KIND);
    assertThat(hit.ringOffset()).isEqualTo(8);
    assertThat(hit.bytes()).isEqualTo(java.util.Arrays.copyOf(content(2, 0, 5000), 3000));
    assertThat(tier.find(key(1)).length()).isEqualTo(4096);

    tier.put(key(1), KIND, content(1, 1, 2048), 2048, 9); // replaced: the old copy is freed
    assertThat(tier.nativeBytes()).isEqualTo(2048 + 3000);
    tier.moved(key(1), 42);
    assertThat(tier.get(key(1)).ringOffset()).isEqualTo(42);

    tier.invalidateAll(List.of(key(2)));
    assertThat(tier.get(key(2))).isNull();
    assertThat(tier.nativeBytes()).isEqualTo(2048);

    for (int n = 10; n < 100; n++) { // far more than 64 KiB: eviction frees as it goes
      tier.put(key(n), KIND, content(n, 0, 4096), 4096, n);
    }
    assertThat(tier.weightedBytes()).isLessThanOrEqualTo(64 * 1024);
    assertThat(tier.nativeBytes()).isLessThanOrEqualTo(tier.weightedBytes()).isPositive();

    tier.put(key(500), KIND, new byte[9000], 9000, 0); // over the entry limit: not kept
    assertThat(tier.get(key(500))).isNull();

    tier.close();
    assertThat(tier.nativeBytes()).isZero();
    assertThat(tier.entries()).isZero();
  }

  @Test
  void loader_runsOnMiss_itsBytesAreReturnedAndCached_nullIsNotCached() {
    var tier = new MemoryTier(64 * 1024, 8 * 1024, Runnable::run);
    var calls = new int[1];
    var loaded = tier.get(key(3), k -> {
      calls[0]++;
      return new MemoryTier.Hit(KIND, content(3, 0, 100), 5);
    });
    assertThat(isVersionOf(loaded.bytes(), 3, 100)).isTrue();
    assertThat(tier.get(key(3), k -> {
      calls[0]++;
      return null;
    }).bytes()).isEqualTo(loaded.bytes());
    assertThat(calls[0]).isEqualTo(1);
    assertThat(tier.get(key(4), k -> null)).isNull();
    assertThat(tier.find(key(4))).isNull();
    tier.close();
  }

  /**
   * Readers copy while writers replace and invalidate the same few keys, and eviction runs all
   * the time: every copy must be one whole version of its key (a read of freed memory would show
   * another key's bytes or garbage), and at the end nothing stays allocated.
   */
  @Test
  void concurrentReadersReplacementAndEviction_everyCopyIsWhole_nothingLeaks() throws Exception {
    var tier = new MemoryTier(256 * 1024, 16 * 1024, Runnable::run);
    int keys = 64;
    int length = 8192;
    var stop = new AtomicBoolean();
    var failures = new ConcurrentLinkedQueue<String>();
    var threads = new ArrayList<Thread>();
    long[] reads = new long[4];
    for (int t = 0; t < 4; t++) {
      int id = t;
      threads.add(new Thread(() -> {
        var random = new Random(id);
        int version = 0;
        while (!stop.get()) {
          int k = random.nextInt(keys);
          if (id < 2) {
            var hit = tier.get(key(k));
            if (hit != null) {
              reads[id]++;
              if (!isVersionOf(hit.bytes(), k, length)) {
                failures.add("key " + k + ": a torn or foreign copy");
              }
            }
          } else if (random.nextInt(8) == 0) {
            tier.invalidateAll(List.of(key(k)));
          } else {
            tier.put(key(k), KIND, content(k, ++version, length), length, 0);
          }
        }
      }));
    }
    threads.forEach(Thread::start);
    TimeUnit.MILLISECONDS.sleep(1500);
    stop.set(true);
    for (var t : threads) {
      t.join();
    }
    assertThat(failures).isEmpty();
    assertThat(reads[0] + reads[1]).isPositive();
    tier.close();
    assertThat(tier.nativeBytes()).isZero();
  }
}
