package dev.buckcache.storage.memory;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.buckcache.storage.StoreKey;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Small entries on the heap, bounded by bytes (Caffeine's W-TinyLFU). A cache of the disk tier:
 * everything here was written to disk first, so losing it loses nothing. Each value remembers its
 * ring offset on disk so that a memory hit can keep the disk copy young without a disk read.
 */
public final class MemoryTier {
  private static final int ENTRY_OVERHEAD = 96;

  /** A cached entry: its kind (disk-tier kinds), its bytes and its ring offset on disk. */
  @SuppressWarnings("ArrayRecordComponent") // a byte carrier: never compared or hashed
  public record Value(byte kind, byte[] bytes, long ringOffset) {
    Value withOffset(long offset) {
      return new Value(kind, bytes, offset);
    }
  }

  private final Cache<StoreKey, Value> cache;
  private final long maxEntryBytes;

  /**
   * @param maxBytes total weight; 0 disables the tier
   * @param maxEntryBytes larger entries are never cached here
   * @param executor runs Caffeine's maintenance
   */
  public MemoryTier(long maxBytes, long maxEntryBytes, Executor executor) {
    this.maxEntryBytes = maxBytes == 0 ? -1 : maxEntryBytes;
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(maxBytes)
            .weigher((StoreKey k, Value v) -> v.bytes.length + k.bytes().length + ENTRY_OVERHEAD)
            .executor(executor)
            .build();
  }

  public boolean admits(long size) {
    return size <= maxEntryBytes;
  }

  public Value get(StoreKey key) {
    return cache.getIfPresent(key);
  }

  /**
   * The cached value, or the loader's (cached if admissible). Concurrent misses for one key run
   * the loader once; a null from the loader is not cached.
   */
  public Value get(StoreKey key, Function<StoreKey, Value> loader) {
    return cache.get(key, k -> {
      var v = loader.apply(k);
      return v != null && admits(v.bytes.length) ? v : null;
    });
  }

  /** A value just written: replaces any cached one. */
  public void put(StoreKey key, Value value) {
    if (admits(value.bytes.length)) {
      cache.put(key, value);
    }
  }

  public void invalidateAll(List<StoreKey> keys) {
    cache.invalidateAll(keys);
  }

  public void moved(StoreKey key, long ringOffset) {
    cache.asMap().computeIfPresent(key, (k, v) -> v.withOffset(ringOffset));
  }

  public long weightedBytes() {
    return cache.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L);
  }

  public long entries() {
    return cache.estimatedSize();
  }
}
