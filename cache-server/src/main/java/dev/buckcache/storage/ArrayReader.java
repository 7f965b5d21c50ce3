package dev.buckcache.storage;

import java.util.Arrays;

/** A reader over bytes already in memory (the memory tier, the empty blob). */
final class ArrayReader implements BlobReader {
  private final byte[] bytes;
  private final long offset;
  private boolean done;

  ArrayReader(byte[] bytes, long offset) {
    this.bytes = bytes;
    this.offset = offset;
  }

  @Override
  public long size() {
    return bytes.length;
  }

  @Override
  public byte[] nextRaw() {
    if (done || offset >= bytes.length) {
      return null;
    }
    done = true;
    return offset == 0 ? bytes : Arrays.copyOfRange(bytes, (int) offset, bytes.length);
  }

  @Override
  public boolean nextRaw(java.nio.ByteBuffer into) {
    return BlobReader.copyPiece(nextRaw(), into);
  }

  @Override
  public int pieceRoom() {
    return (int) Math.max(0, bytes.length - offset);
  }

  @Override
  public StoredChunk nextStored() {
    return StoredChunk.raw(nextRaw());
  }

  @Override
  public void close() {
    done = true;
  }
}
