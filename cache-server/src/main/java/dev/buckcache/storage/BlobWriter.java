package dev.buckcache.storage;

import java.io.Closeable;
import java.nio.ByteBuffer;

/**
 * Streams one blob into the store. Bytes are hashed as they arrive; {@link #commit()} checks the
 * size and hash against the expected digest and makes the blob visible atomically. Closing an
 * uncommitted writer discards everything written: nothing partial is ever readable.
 */
public interface BlobWriter extends Closeable {
  void write(byte[] bytes, int offset, int length);

  void write(ByteBuffer bytes);

  /** Bytes accepted so far (uncompressed). */
  long committedSize();

  /**
   * Verifies and stores the blob.
   *
   * @throws StorageException.ContentMismatch if the size or hash differs; nothing is stored
   */
  void commit();

  /** Aborts unless committed. Idempotent. */
  @Override
  void close();
}
