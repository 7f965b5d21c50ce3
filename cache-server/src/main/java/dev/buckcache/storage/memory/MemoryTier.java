package dev.buckcache.storage.memory;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.buckcache.storage.StoreKey;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.ReferenceCounted;
import io.netty.util.internal.PlatformDependent;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/*
 * Design notes
 *
 * Off the heap. The bytes of each entry live in native memory that this tier allocates and frees
 * itself (malloc and free through Netty's PlatformDependent), so the tier's bound is its own and not part
 * of -Xmx or -XX:MaxDirectMemorySize: a 512 MB tier no longer needs a heap of about 1 GB beside
 * it, and the collector never marks or copies it. Only the index (Caffeine's nodes, the keys and
 * a small Value per entry) stays on the heap.
 *
 * Lifetime. Each entry is reference-counted: the cache holds one reference, dropped by
 * the removal listener when the entry is evicted, invalidated or replaced. A reader takes its own
 * reference while it copies the bytes out; a reader that finds the count already at zero (the
 * entry went between lookup and copy) gets a miss, never freed memory. Readers receive heap copies
 * (a 4 KiB copy costs less than the allocation it replaces on the disk path), so nothing outside
 * this class ever sees native memory.
 */

/**
 * Small entries off the heap, bounded by bytes (Caffeine's W-TinyLFU). A cache of the disk tier:
 * everything here was written to disk first, so losing it loses nothing. Each value remembers its
 * ring offset on disk so that a memory hit can keep the disk copy young without a disk read.
 */
public final class MemoryTier implements AutoCloseable {
  /** Heap and allocator bytes per entry beside its data: Caffeine's node, the key, the value. */
  private static final int ENTRY_OVERHEAD = 128;

  /** A hit: the entry's kind (disk-tier kinds), a heap copy of its bytes, its ring offset. */
  @SuppressWarnings("ArrayRecordComponent") // a byte carrier: never compared or hashed
  public record Hit(byte kind, byte[] bytes, long ringOffset) {}

  /** A cached entry: its kind, its length, its ring offset and its bytes off the heap. */
  public static final class Value extends AbstractReferenceCounted {
    private final byte kind;
    private final int length;
    /** Native memory, or 0 with the bytes in {@link #heap} (a JVM without Unsafe, or empty). */
    private final long address;
    private final byte[] heap;
    private final LongAdder held;
    private volatile long ringOffset;

    private Value(byte kind, byte[] bytes, int length, long ringOffset, LongAdder held) {
      this.kind = kind;
      this.length = length;
      this.ringOffset = ringOffset;
      this.held = held;
      if (length > 0 && PlatformDependent.hasUnsafe()) {
        address = PlatformDependent.allocateMemory(length);
        PlatformDependent.copyMemory(bytes, 0, address, length);
        heap = null;
        held.add(length);
      } else {
        address = 0;
        heap = java.util.Arrays.copyOf(bytes, length);
      }
    }

    public int length() {
      return length;
    }

    public long ringOffset() {
      return ringOffset;
    }

    /** A heap copy of the entry, or null if it was evicted (and freed) since it was looked up. */
    Hit copy() {
      try {
        retain();
      } catch (IllegalReferenceCountException e) {
        return null;
      }
      try {
        var bytes = new byte[length];
        if (address != 0) {
          PlatformDependent.copyMemory(address, bytes, 0, length);
        } else {
          System.arraycopy(heap, 0, bytes, 0, length);
        }
        return new Hit(kind, bytes, ringOffset);
      } finally {
        release();
      }
    }

    @Override
    protected void deallocate() {
      if (address != 0) {
        PlatformDependent.freeMemory(address);
        held.add(-length);
      }
    }

    @Override
    public ReferenceCounted touch(Object hint) {
      return this;
    }
  }

  private final Cache<StoreKey, Value> cache;
  private final long maxEntryBytes;
  private final LongAdder nativeBytes = new LongAdder();

  /**
   * @param maxBytes total weight; 0 disables the tier
   * @param maxEntryBytes larger entries are never cached here
   * @param executor runs Caffeine's maintenance and frees removed entries
   */
  public MemoryTier(long maxBytes, long maxEntryBytes, Executor executor) {
    this.maxEntryBytes = maxBytes == 0 ? -1 : maxEntryBytes;
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(maxBytes)
            .weigher((StoreKey k, Value v) -> v.length() + k.bytes().length + ENTRY_OVERHEAD)
            .removalListener((StoreKey k, Value v, com.github.benmanes.caffeine.cache.RemovalCause c)
                -> {
              if (v != null) {
                v.release();
              }
            })
            .executor(executor)
            .build();
  }

  public boolean admits(long size) {
    return size <= maxEntryBytes;
  }

  /** The entry's length and ring offset, without copying its bytes; null if absent. */
  public Value find(StoreKey key) {
    return cache.getIfPresent(key);
  }

  /** A copy of the entry, or null if absent. */
  public Hit get(StoreKey key) {
    var v = cache.getIfPresent(key);
    return v == null ? null : v.copy();
  }

  /**
   * The cached entry, or the loader's (cached if admissible). Concurrent misses for one key run
   * the loader once; a null from the loader is not cached.
   */
  public Hit get(StoreKey key, Function<StoreKey, Hit> loader) {
    var hit = get(key);
    if (hit != null) {
      return hit;
    }
    var loaded = new Hit[1];
    var v = cache.get(key, k -> {
      var h = loader.apply(k);
      loaded[0] = h;
      return h != null && admits(h.bytes().length)
          ? new Value(h.kind(), h.bytes(), h.bytes().length, h.ringOffset(), nativeBytes) : null;
    });
    if (loaded[0] != null) {
      return loaded[0];
    }
    return v == null ? null : v.copy(); // another caller's load
  }

  /** An entry just written (the first {@code length} bytes): replaces any cached one. */
  public void put(StoreKey key, byte kind, byte[] bytes, int length, long ringOffset) {
    if (admits(length)) {
      cache.put(key, new Value(kind, bytes, length, ringOffset, nativeBytes));
    }
  }

  public void invalidateAll(List<StoreKey> keys) {
    cache.invalidateAll(keys);
  }

  public void moved(StoreKey key, long ringOffset) {
    var v = cache.policy().getIfPresentQuietly(key); // not an access: recency stays
    if (v != null) {
      v.ringOffset = ringOffset;
    }
  }

  public long weightedBytes() {
    return cache.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L);
  }

  /** Native bytes the entries hold now (freed ones excluded). */
  public long nativeBytes() {
    return nativeBytes.sum();
  }

  public long entries() {
    return cache.estimatedSize();
  }

  /** Frees every entry (readers holding a copy keep it). */
  @Override
  public void close() {
    cache.invalidateAll();
    cache.cleanUp();
  }
}
