package dev.buckcache.storage;

import dev.buckcache.storage.disk.DiskTier;

/** A reader over a disk-tier chunk stream. */
final class DiskReader implements BlobReader {
  private final long size;
  private final DiskTier.ChunkStream stream;

  DiskReader(long size, DiskTier.ChunkStream stream) {
    this.size = size;
    this.stream = stream;
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
  public StoredChunk nextStored() {
    return stream.nextStored();
  }

  @Override
  public void close() {
    stream.close();
  }
}
