package dev.buckcache.storage;

import java.io.Closeable;

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
   * The next chunk as stored, or null at the end. Only for readers opened at offset 0; do not
   * mix with {@link #nextRaw()}.
   */
  StoredChunk nextStored();

  @Override
  void close();
}
