package dev.buckcache.storage;

import dev.buckcache.storage.memory.MemoryTier;
import java.nio.ByteBuffer;

/**
 * A reader over a memory-tier value. It holds a reference to the value from when it is made
 * (the caller retained it) until it is closed, so eviction meanwhile cannot free the bytes.
 */
final class MemoryReader implements BlobReader {
  private final MemoryTier.Value value;
  private final int offset;
  private boolean done;
  private boolean closed;

  /** Takes over the caller's reference to {@code value}. */
  MemoryReader(MemoryTier.Value value, long offset) {
    this.value = value;
    this.offset = (int) offset;
  }

  @Override
  public long size() {
    return value.length();
  }

  /** Whether a piece is left; the bytes are only touched while this reader is open. */
  private boolean next() {
    if (closed) {
      throw new IllegalStateException("read from a closed reader");
    }
    if (done || offset >= value.length()) {
      return false;
    }
    done = true;
    return true;
  }

  @Override
  public byte[] nextRaw() {
    return next() ? value.copy(offset) : null;
  }

  @Override
  public boolean nextRaw(ByteBuffer into) {
    if (!next()) {
      return false;
    }
    int start = into.position();
    into.put(value.view().position(offset)).limit(into.position()).position(start);
    return true;
  }

  @Override
  public int pieceRoom() {
    return Math.max(0, value.length() - offset);
  }

  @Override
  public StoredChunk nextStored() {
    return StoredChunk.raw(nextRaw());
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      value.release();
    }
  }
}
