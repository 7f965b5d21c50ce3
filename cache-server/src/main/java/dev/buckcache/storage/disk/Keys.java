package dev.buckcache.storage.disk;

import java.nio.ByteBuffer;
import java.util.Arrays;

/** Big-endian encodings of the sequence-ordered keys, so byte order is numeric order. */
final class Keys {
  private Keys() {}

  static byte[] seq(long seq) {
    return ByteBuffer.allocate(8).putLong(seq).array();
  }

  static long seqOf(byte[] key) {
    return ByteBuffer.wrap(key, 0, 8).getLong();
  }

  static byte[] chunk(long seq, int chunkNo) {
    return ByteBuffer.allocate(12).putLong(seq).putInt(chunkNo).array();
  }

  /** Log record value: stored bytes, then the entry key (empty for a dead record). */
  static byte[] logRecord(long storedBytes, byte[] entryKey) {
    return ByteBuffer.allocate(8 + entryKey.length).putLong(storedBytes).put(entryKey).array();
  }

  static long logStoredBytes(byte[] value) {
    return ByteBuffer.wrap(value, 0, 8).getLong();
  }

  static byte[] logEntryKey(byte[] value) {
    return Arrays.copyOfRange(value, 8, value.length);
  }

  static byte[] counter(long delta) {
    // RocksDB's uint64add merge operator reads little-endian.
    return ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(delta).array();
  }

  static long counterValue(byte[] value) {
    if (value == null) {
      return 0;
    }
    return ByteBuffer.wrap(value).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
  }
}
