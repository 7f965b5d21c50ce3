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
 * @param writer who wrote it ({@link dev.buckcache.storage.Provenance#encode}), or null: action-cache
 *     entries carry it, CAS blobs (content-addressed, so nobody can poison them) do not. Records with
 *     a writer are version 2 (the fixed fields, then the writer's bytes); version 1 has none.
 * @param inFile whether the bytes lie raw in a file of their own ({@link BlobFiles}) rather than
 *     in chunks in the data column family; {@code chunkCount} then counts the pieces a reader
 *     takes. Versions 3 and 4 are versions 1 and 2 of such an entry.
 */
@SuppressWarnings("ArrayRecordComponent") // writer is an opaque carrier, never compared
record EntryMeta(long seq, long offset, long size, long storedBytes, int chunkCount, int chunkSize,
    byte kind, byte[] writer, boolean inFile) {
  private static final byte VERSION = 1;
  private static final byte VERSION_WITH_WRITER = 2;
  private static final byte IN_FILE = 2; // added to the version
  private static final int LENGTH = 1 + 8 * 4 + 4 + 4 + 1;

  EntryMeta(long seq, long offset, long size, long storedBytes, int chunkCount, int chunkSize,
      byte kind) {
    this(seq, offset, size, storedBytes, chunkCount, chunkSize, kind, null, false);
  }

  byte[] encode() {
    var out = ByteBuffer.allocate(LENGTH + (writer == null ? 0 : writer.length))
        .put((byte) ((writer == null ? VERSION : VERSION_WITH_WRITER) + (inFile ? IN_FILE : 0)))
        .putLong(seq)
        .putLong(offset)
        .putLong(size)
        .putLong(storedBytes)
        .putInt(chunkCount)
        .putInt(chunkSize)
        .put(kind);
    if (writer != null) {
      out.put(writer);
    }
    return out.array();
  }

  static EntryMeta decode(byte[] bytes) {
    var in = ByteBuffer.wrap(bytes);
    byte stored = bytes.length == 0 ? 0 : in.get();
    boolean inFile = stored > VERSION_WITH_WRITER;
    byte version = (byte) (inFile ? stored - IN_FILE : stored);
    boolean known = version == VERSION ? bytes.length == LENGTH
        : version == VERSION_WITH_WRITER && bytes.length > LENGTH;
    if (!known) {
      throw new IllegalStateException("unknown index record format (" + bytes.length + " bytes)");
    }
    return new EntryMeta(
        in.getLong(), in.getLong(), in.getLong(), in.getLong(), in.getInt(), in.getInt(), in.get(),
        version == VERSION ? null : java.util.Arrays.copyOfRange(bytes, LENGTH, bytes.length),
        inFile);
  }

  EntryMeta withPlacement(long newSeq, long newOffset) {
    return new EntryMeta(newSeq, newOffset, size, storedBytes, chunkCount, chunkSize, kind, writer,
        inFile);
  }

  int rawLength(int chunkNo) {
    return (int) Math.min(chunkSize, size - (long) chunkNo * chunkSize);
  }
}
