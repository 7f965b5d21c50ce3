package dev.buckcache.storage;

import java.io.Closeable;
import java.nio.ByteBuffer;

/**
 * Reads one blob chunk by chunk, so a large blob never sits whole on the heap. The view is
 * consistent: eviction while reading does not tear it.
 */
public interface BlobReader extends Closeable {
  /** The blob's full (uncompressed) size. */
  long size();

  /** The next uncompressed bytes from the requested offset, or null at the end. */
  byte[] nextRaw();

  /**
   * The next uncompressed bytes from the requested offset, copied into {@code into} (written from
   * its position, with at least {@link #pieceRoom()} bytes remaining), or false at the end. On
   * true, {@code into}'s position and limit bound the bytes read; the position may have moved past
   * bytes the read used on the way (a disk chunk's tag byte). For a front end that sends from
   * direct buffers: a disk read lands in one with one copy, where {@link #nextRaw()} takes three.
   * Do not mix with {@link #nextStored()}.
   */
  boolean nextRaw(ByteBuffer into);

  /** The room the next {@link #nextRaw(ByteBuffer)} needs in its buffer. */
  int pieceRoom();

  /**
   * For a blob the disk keeps as a plain file, asked before any read: where the requested bytes
   * lie in it, for a front end that sends them with zero copy (sendfile). Null for every other
   * blob. The reader still owns the channel: close the reader only after the last transfer.
   */
  default FileSpan fileSpan() {
    return null;
  }

  /** Bytes {@code [position, position + count)} of an open file. */
  record FileSpan(java.nio.channels.FileChannel channel, long position, long count) {}

  /** {@link #nextRaw(ByteBuffer)} for a reader whose pieces are arrays anyway: one copy. */
  static boolean copyPiece(byte[] raw, ByteBuffer into) {
    if (raw == null) {
      return false;
    }
    int start = into.position();
    into.put(raw).limit(into.position()).position(start);
    return true;
  }

  /**
   * The next chunk as stored, or null at the end. Only for readers opened at offset 0; do not
   * mix with {@link #nextRaw()}.
   */
  StoredChunk nextStored();

  @Override
  void close();
}
