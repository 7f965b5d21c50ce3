package dev.buckcache.storage.disk;

import dev.buckcache.storage.StoreKey;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.concurrent.locks.StampedLock;

/**
 * Which keys the index holds, in memory: a multiset of 64-bit fingerprints of the keys, so that
 * a presence check of a key that is not stored ({@code FindMissingBlobs}' missing half, a cold
 * build's every digest) is answered without RocksDB.
 *
 * <p>Design notes. One fingerprint per indexed key, added where the tier counts a new entry and
 * removed where it counts one gone, under the same key lock, so the multiset follows the index
 * exactly: a key absent here is absent there. A key present here may not be (two keys with one
 * fingerprint, about n / 2^64 per lookup), so a positive is confirmed with RocksDB: the index is
 * only ever asked "certainly absent?". Open addressing with linear probing in 64 segments, each
 * an array of longs at most 3/4 full (0 marks a free slot) with a StampedLock: a lookup is an
 * optimistic read, an add or remove takes the segment's write lock, a remove shifts the probe run
 * back (no tombstones). About 11 bytes per entry at 3/4 load, 16 on average (a segment doubles at
 * 3/4): 16 MB per million entries, 160 MB for ten million.
 */
final class PresenceIndex {
  private static final int SEGMENT_BITS = 6;
  private static final int MIN_SLOTS = 64;
  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private final Segment[] segments = new Segment[1 << SEGMENT_BITS];

  PresenceIndex() {
    for (int i = 0; i < segments.length; i++) {
      segments[i] = new Segment();
    }
  }

  /** The key's fingerprint: never 0 (the free slot). */
  static long fingerprint(byte[] key) {
    long h = 0x9E3779B97F4A7C15L ^ key.length;
    int i = 0;
    for (; i + 8 <= key.length; i += 8) {
      h = Long.rotateLeft(h ^ mix((long) LONGS.get(key, i)), 27) * 0x9E3779B97F4A7C15L;
    }
    long tail = 0;
    for (int shift = 0; i < key.length; i++, shift += 8) {
      tail |= (key[i] & 0xFFL) << shift;
    }
    h = mix(h ^ mix(tail));
    return h == 0 ? 1 : h;
  }

  private static long mix(long z) { // the finalizer of SplitMix64
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private Segment segment(long fp) {
    return segments[(int) (fp >>> (64 - SEGMENT_BITS))];
  }

  void add(long fp) {
    segment(fp).add(fp);
  }

  void remove(long fp) {
    segment(fp).remove(fp);
  }

  /** False only when the key is certainly not indexed. */
  boolean mayContain(StoreKey key) {
    return mayContainFingerprint(fingerprint(key.bytes()));
  }

  boolean mayContainFingerprint(long fp) {
    return segment(fp).contains(fp);
  }

  /** Fingerprints held, duplicates counted. */
  long size() {
    long n = 0;
    for (var s : segments) {
      n += s.size();
    }
    return n;
  }

  /** Bytes the slot arrays take. */
  long bytes() {
    long n = 0;
    for (var s : segments) {
      n += 8L * s.capacity();
    }
    return n;
  }

  private static final class Segment {
    private final StampedLock lock = new StampedLock();
    private long[] slots = new long[MIN_SLOTS];
    private int size;

    boolean contains(long fp) {
      long stamp = lock.tryOptimisticRead();
      if (stamp != 0) {
        boolean found = find(slots, fp) >= 0;
        if (lock.validate(stamp)) {
          return found;
        }
      }
      stamp = lock.readLock();
      try {
        return find(slots, fp) >= 0;
      } finally {
        lock.unlockRead(stamp);
      }
    }

    /** The slot holding {@code fp}, or -1. Tolerates a torn view (validated by the caller). */
    private static int find(long[] table, long fp) {
      int mask = table.length - 1;
      for (int i = (int) fp & mask, probes = 0; probes < table.length; i = (i + 1) & mask, probes++) {
        long v = table[i];
        if (v == fp) {
          return i;
        }
        if (v == 0) {
          return -1;
        }
      }
      return -1;
    }

    void add(long fp) {
      long stamp = lock.writeLock();
      try {
        if ((size + 1) * 4L > slots.length * 3L) {
          slots = grown(slots, slots.length * 2);
        }
        insert(slots, fp);
        size++;
      } finally {
        lock.unlockWrite(stamp);
      }
    }

    void remove(long fp) {
      long stamp = lock.writeLock();
      try {
        int at = find(slots, fp);
        if (at < 0) {
          return;
        }
        deleteAt(slots, at);
        size--;
        if (slots.length > MIN_SLOTS && size * 8L < slots.length) {
          slots = grown(slots, slots.length / 2);
        }
      } finally {
        lock.unlockWrite(stamp);
      }
    }

    private static void insert(long[] table, long fp) {
      int mask = table.length - 1;
      int i = (int) fp & mask;
      while (table[i] != 0) {
        i = (i + 1) & mask;
      }
      table[i] = fp;
    }

    /** Empties slot {@code at} and moves later entries of its probe run back into the gap. */
    private static void deleteAt(long[] table, int at) {
      int mask = table.length - 1;
      int gap = at;
      for (int i = (at + 1) & mask; table[i] != 0; i = (i + 1) & mask) {
        int home = (int) table[i] & mask;
        // Move it when its home is not in (gap, i], cyclically: the gap is on its probe path.
        boolean between = gap <= i ? gap < home && home <= i : gap < home || home <= i;
        if (!between) {
          table[gap] = table[i];
          gap = i;
        }
      }
      table[gap] = 0;
    }

    private static long[] grown(long[] table, int capacity) {
      var next = new long[capacity];
      for (long v : table) {
        if (v != 0) {
          insert(next, v);
        }
      }
      return next;
    }

    int size() {
      long stamp = lock.readLock();
      try {
        return size;
      } finally {
        lock.unlockRead(stamp);
      }
    }

    int capacity() {
      long stamp = lock.readLock();
      try {
        return slots.length;
      } finally {
        lock.unlockRead(stamp);
      }
    }
  }
}
