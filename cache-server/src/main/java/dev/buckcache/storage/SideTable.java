package dev.buckcache.storage;

import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A small durable key-value table beside the store, outside its eviction and size accounting:
 * for what the server keeps about its callers (recent builds, hourly hit rates), which must
 * survive a restart. Meant for thousands of small records, not for cache data.
 */
public interface SideTable {
  /** Writes the puts and deletes atomically. */
  void write(List<Map.Entry<byte[], byte[]>> puts, List<byte[]> deletes);

  /** Every record whose key starts with {@code prefix}, in key order. */
  void scan(byte[] prefix, BiConsumer<byte[], byte[]> each);

  /** A table in memory only, for tests and stores without a disk. */
  static SideTable inMemory() {
    var map = new java.util.concurrent.ConcurrentSkipListMap<byte[], byte[]>(java.util.Arrays::compareUnsigned);
    return new SideTable() {
      @Override
      public void write(List<Map.Entry<byte[], byte[]>> puts, List<byte[]> deletes) {
        deletes.forEach(map::remove);
        puts.forEach(e -> map.put(e.getKey().clone(), e.getValue().clone()));
      }

      @Override
      public void scan(byte[] prefix, BiConsumer<byte[], byte[]> each) {
        for (var e : map.tailMap(prefix).entrySet()) {
          if (!startsWith(e.getKey(), prefix)) {
            return;
          }
          each.accept(e.getKey(), e.getValue());
        }
      }
    };
  }

  static boolean startsWith(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && java.util.Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }
}
