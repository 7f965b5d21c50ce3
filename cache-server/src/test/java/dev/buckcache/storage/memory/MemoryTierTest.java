package dev.buckcache.storage.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.StoreKey;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MemoryTierTest {
  private static final int SIZE = 64 * 1024;
  private static final int COUNT = 64;

  /** Direct memory the JVM counts as in use now (what -XX:MaxDirectMemorySize bounds). */
  private static long directUsed() {
    return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
        .filter(p -> p.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed)
        .sum();
  }

  private static StoreKey key(int i) {
    var hash = String.format("%064x", i);
    return StoreKey.cas(new Digest(DigestFunction.SHA256, hash, SIZE));
  }

  private static byte[] bytes(int seed) {
    var b = new byte[SIZE];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void invalidatedValues_areFreedAtOnce_notWhenCollected() {
    var tier = new MemoryTier(64L << 20, 1 << 20, Runnable::run);
    long before = directUsed();
    // Held here, so the collector cannot be what frees them.
    var values = new ArrayList<MemoryTier.Value>();
    var keys = new ArrayList<StoreKey>();
    for (int i = 0; i < COUNT; i++) {
      var v = MemoryTier.Value.copyOf((byte) 1, bytes(i), 0, SIZE, 0);
      values.add(v);
      keys.add(key(i));
      tier.put(key(i), v);
    }
    assertThat(directUsed() - before).isGreaterThanOrEqualTo((long) COUNT * SIZE);
    tier.invalidateAll(keys);
    assertThat(directUsed() - before).isLessThan(SIZE);
    assertThat(values).noneMatch(MemoryTier.Value::retain);
  }

  @Test
  void aReaderKeepsItsValue_throughEviction_untilItReleases() {
    var tier = new MemoryTier(64L << 20, 1 << 20, Runnable::run);
    var content = bytes(7);
    tier.put(key(1), MemoryTier.Value.copyOf((byte) 1, content, 0, SIZE, 0));
    var held = tier.acquire(key(1));
    long before = directUsed();
    tier.invalidateAll(List.of(key(1)));
    assertThat(tier.acquire(key(1))).isNull();
    assertThat(held.copy(0)).isEqualTo(content);
    assertThat(directUsed()).isEqualTo(before);
    held.release();
    assertThat(directUsed()).isLessThanOrEqualTo(before - SIZE);
    assertThat(held.retain()).isFalse();
    assertThatThrownBy(held::release).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void replacedAndOverflowingValues_areFreed_andTheLoaderIsRetained() {
    var tier = new MemoryTier(8L * SIZE, SIZE, Runnable::run);
    long before = directUsed();
    for (int i = 0; i < 200; i++) {
      tier.put(key(i % 20), MemoryTier.Value.copyOf((byte) 1, bytes(i), 0, SIZE, i));
    }
    tier.put(key(99), MemoryTier.Value.copyOf((byte) 1, new byte[SIZE + 1], 0, SIZE + 1, 0));
    assertThat(tier.get(key(99))).isNull();
    // Whatever Caffeine kept is within its weight; nothing more is allocated.
    assertThat(directUsed() - before).isLessThanOrEqualTo(8L * SIZE);
    var content = bytes(5);
    var loaded = tier.acquire(key(500), k -> MemoryTier.Value.copyOf((byte) 2, content, 0, SIZE, 3));
    assertThat(loaded.kind()).isEqualTo((byte) 2);
    assertThat(Arrays.equals(loaded.copy(0), content)).isTrue();
    loaded.release();
    assertThat(tier.acquire(key(501), k -> null)).isNull();
  }
}
