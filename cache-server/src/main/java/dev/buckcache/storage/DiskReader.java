package dev.buckcache.storage;

import dev.buckcache.storage.disk.DiskTier;

/** A reader over a disk-tier chunk stream; counted as open until its first close. */
final class DiskReader implements BlobReader {
  private final long size;
  private final DiskTier.ChunkStream stream;
  private final OpenCounter.Handle counted;

  DiskReader(long size, DiskTier.ChunkStream stream, OpenCounter counter) {
    this.size = size;
    this.stream = stream;
    this.counted = counter.open();
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public byte[] nextRaw() {
    return stream.nextRaw();
  }

  @Override
  public boolean nextRaw(java.nio.ByteBuffer into) {
    return stream.nextRaw(into);
  }

  @Override
  public FileSpan fileSpan() {
    return stream.fileSpan();
  }

  @Override
  public int pieceRoom() {
    return stream.pieceRoom();
  }

  @Override
  public StoredChunk nextStored() {
    return stream.nextStored();
  }

  @Override
  public void close() {
    try {
      stream.close();
    } finally {
      counted.close();
    }
  }
}
