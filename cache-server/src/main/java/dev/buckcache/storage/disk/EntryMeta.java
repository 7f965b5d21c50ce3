package dev.buckcache.storage.disk;

import java.nio.ByteBuffer;

/**
 * The index record of one entry on disk.
 *
 * @param seq data sequence number: the entry's chunks are keys {@code seq ++ chunkNo} in the data
 *     column family, and its log record is key {@code seq}
 * @param offset ring offset at commit: how many stored bytes were committed before it, ever. The
 *     entry's age is {@code head - offset}.
 * @param size uncompressed size
 * @param storedBytes bytes its chunks take on disk
 * @param chunkCount number of chunks
 * @param chunkSize uncompressed bytes per chunk (the last may be shorter)
 * @param kind what the entry holds (see {@link DiskTier#KIND_CAS} and friends)
 */
record EntryMeta(
    long seq, long offset, long size, long storedBytes, int chunkCount, int chunkSize, byte kind) {
  private static final byte VERSION = 1;
  private static final int LENGTH = 1 + 8 * 4 + 4 + 4 + 1;

  byte[] encode() {
    return ByteBuffer.allocate(LENGTH)
        .put(VERSION)
        .putLong(seq)
        .putLong(offset)
        .putLong(size)
        .putLong(storedBytes)
        .putInt(chunkCount)
        .putInt(chunkSize)
        .put(kind)
        .array();
  }

  static EntryMeta decode(byte[] bytes) {
    var in = ByteBuffer.wrap(bytes);
    if (bytes.length != LENGTH || in.get() != VERSION) {
      throw new IllegalStateException("unknown index record format (" + bytes.length + " bytes)");
    }
    return new EntryMeta(
        in.getLong(), in.getLong(), in.getLong(), in.getLong(), in.getInt(), in.getInt(), in.get());
  }

  EntryMeta withPlacement(long newSeq, long newOffset) {
    return new EntryMeta(newSeq, newOffset, size, storedBytes, chunkCount, chunkSize, kind);
  }

  int rawLength(int chunkNo) {
    return (int) Math.min(chunkSize, size - (long) chunkNo * chunkSize);
  }
}
