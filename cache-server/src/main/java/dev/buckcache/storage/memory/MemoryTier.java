package dev.buckcache.storage.memory;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.buckcache.storage.StoreKey;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Function;

/*
 * Design notes
 *
 * Off the heap. The bytes of each entry live in a direct buffer of their own, so the heap holds
 * only the cache's nodes and keys (about 200 bytes an entry) and its size need not grow with the
 * tier: a 512 MB tier on the heap wanted a heap of twice that before the rest of the server, and
 * a heap that large is filled with garbage before the collector returns any of it. Direct memory
 * is counted against -XX:MaxDirectMemorySize, which the memory plan sets to Netty's share plus
 * the tier's.
 *
 * Freed when the last reference goes, not when the collector gets round to it. A value starts
 * with one reference, the cache's, which Caffeine's removal listener gives back on eviction,
 * invalidation or replacement. A reader takes its own (retain) before it touches the bytes and
 * gives it back when done (release); retain fails once the count has reached zero, and the
 * reader then treats the entry as not cached. The last release frees the buffer at once
 * (Unsafe.invokeCleaner, looked up reflectively from jdk.unsupported; without it the collector
 * frees it later). A reader that never releases only delays the free to when its buffer is
 * collected, since the buffer's cleaner still runs then.
 */

/**
 * Small entries off the heap, bounded by bytes (Caffeine's W-TinyLFU). A cache of the disk tier:
 * everything here was written to disk first, so losing it loses nothing. Each value remembers its
 * ring offset on disk so that a memory hit can keep the disk copy young without a disk read.
 */
public final class MemoryTier {
  private static final int ENTRY_OVERHEAD = 96;

  /**
   * A cached entry: its kind (disk-tier kinds), its bytes in a direct buffer, and its ring offset
   * on disk. Its kind, length and offset may be read at any time; its bytes only between a
   * successful {@link #retain()} and the matching {@link #release()}.
   */
  public static final class Value {
    private static final VarHandle REFS;

    static {
      try {
        REFS = MethodHandles.lookup().findVarHandle(Value.class, "refs", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final byte kind;
    private final ByteBuffer bytes;
    private volatile long ringOffset;
    @SuppressWarnings("unused") // through REFS
    private volatile int refs = 1;

    private Value(byte kind, ByteBuffer bytes, long ringOffset) {
      this.kind = kind;
      this.bytes = bytes;
      this.ringOffset = ringOffset;
    }

    /** A value holding a copy of {@code length} bytes of {@code src}; its one reference is the cache's. */
    public static Value copyOf(byte kind, byte[] src, int offset, int length, long ringOffset) {
      var direct = ByteBuffer.allocateDirect(length);
      direct.put(0, src, offset, length);
      return new Value(kind, direct, ringOffset);
    }

    public byte kind() {
      return kind;
    }

    public int length() {
      return bytes.capacity();
    }

    public long ringOffset() {
      return ringOffset;
    }

    /** Takes a reference for reading the bytes; false if the value has been freed. */
    public boolean retain() {
      for (int r = (int) REFS.getVolatile(this); r > 0; r = (int) REFS.getVolatile(this)) {
        if (REFS.compareAndSet(this, r, r + 1)) {
          return true;
        }
      }
      return false;
    }

    /** Gives back a reference; the last one frees the bytes. */
    public void release() {
      int left = (int) REFS.getAndAdd(this, -1) - 1;
      if (left == 0) {
        free(bytes);
      } else if (left < 0) {
        throw new IllegalStateException("memory-tier value released more often than retained");
      }
    }

    /** A read-only view of the bytes, valid while a reference is held. */
    public ByteBuffer view() {
      return bytes.asReadOnlyBuffer();
    }

    /** Bytes {@code [from, length())} as a new array, while a reference is held. */
    public byte[] copy(int from) {
      var out = new byte[length() - from];
      bytes.get(from, out);
      return out;
    }
  }

  private static final MethodHandle INVOKE_CLEANER = invokeCleaner();

  private static MethodHandle invokeCleaner() {
    try {
      var unsafeClass = Class.forName("sun.misc.Unsafe");
      var field = unsafeClass.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      return MethodHandles.lookup()
          .findVirtual(unsafeClass, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class))
          .bindTo(field.get(null));
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null; // the collector frees the buffers instead
    }
  }

  private static void free(ByteBuffer direct) {
    if (INVOKE_CLEANER == null) {
      return;
    }
    try {
      INVOKE_CLEANER.invokeExact(direct);
    } catch (Throwable e) {
      throw new IllegalStateException("could not free a memory-tier buffer", e);
    }
  }

  private final Cache<StoreKey, Value> cache;
  private final long maxEntryBytes;

  /**
   * @param maxBytes total weight; 0 disables the tier
   * @param maxEntryBytes larger entries are never cached here
   * @param executor runs Caffeine's maintenance and frees removed values
   */
  public MemoryTier(long maxBytes, long maxEntryBytes, Executor executor) {
    this.maxEntryBytes = maxBytes == 0 ? -1 : maxEntryBytes;
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(maxBytes)
            .weigher((StoreKey k, Value v) -> v.length() + k.bytes().length + ENTRY_OVERHEAD)
            .removalListener((StoreKey k, Value v, com.github.benmanes.caffeine.cache.RemovalCause c) -> {
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

  /** The cached value, not retained: for its kind, length and offset only. */
  public Value get(StoreKey key) {
    return cache.getIfPresent(key);
  }

  /** The cached value with a reference taken for the caller, or null. */
  public Value acquire(StoreKey key) {
    var v = cache.getIfPresent(key);
    return v != null && v.retain() ? v : null;
  }

  /**
   * The cached value, or the loader's (cached if admissible), with a reference taken for the
   * caller; null if neither. Concurrent misses for one key run the loader once; a null from the
   * loader is not cached.
   */
  public Value acquire(StoreKey key, Function<StoreKey, Value> loader) {
    for (int attempt = 0; attempt < 3; attempt++) {
      var v = cache.get(key, k -> {
        var loaded = loader.apply(k);
        if (loaded != null && !admits(loaded.length())) {
          loaded.release();
          return null;
        }
        return loaded;
      });
      if (v == null || v.retain()) {
        return v;
      }
      // Evicted between the lookup and the retain: look again (the loader reloads it).
    }
    return null;
  }

  /** A value just written: replaces any cached one. Takes over the value's reference. */
  public void put(StoreKey key, Value value) {
    if (admits(value.length())) {
      cache.put(key, value);
    } else {
      value.release();
    }
  }

  public void invalidateAll(List<StoreKey> keys) {
    cache.invalidateAll(keys);
  }

  public void moved(StoreKey key, long ringOffset) {
    var v = cache.getIfPresent(key);
    if (v != null) {
      v.ringOffset = ringOffset;
    }
  }

  public long weightedBytes() {
    return cache.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L);
  }

  public long entries() {
    return cache.estimatedSize();
  }
}
