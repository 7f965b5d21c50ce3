package dev.buckcache.storage.disk;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/**
 * What the disk tier needs to know, derived once from the storage config.
 *
 * @param chunkSize uncompressed bytes per stored chunk; 1 MiB in production, smaller in tests
 * @param nativeMemory what RocksDB's block cache and memtables may take together, or 0 for the
 *     sizes the disk alone sets (a 64 MiB cache, memtables from the capacity)
 */
public record DiskSettings(Path dir, long maxSize, double cleanupThreshold, boolean compress,
    int zstdLevel, int chunkSize, long nativeMemory) {

  public static final int DEFAULT_CHUNK_SIZE = 1 << 20;
  public static final long MIN_MAX_SIZE = 32L << 20;

  public DiskSettings(Path dir, long maxSize, double cleanupThreshold, boolean compress,
      int zstdLevel, int chunkSize) {
    this(dir, maxSize, cleanupThreshold, compress, zstdLevel, chunkSize, 0);
  }

  public DiskSettings {
    requireNonNull(dir, "dir");
    if (maxSize < MIN_MAX_SIZE) {
      throw new IllegalArgumentException("max size must be at least 32MiB");
    }
    if (!validCleanupThreshold(cleanupThreshold)) {
      throw new IllegalArgumentException("cleanup threshold must be above 0.5 and below 1");
    }
  }

  /**
   * Above {@link DiskTier#REFRESH_FRACTION} (0.5) and below 1: a round then frees less than the
   * refresh window, so an entry read since it came within reach is never the next to go (see
   * the design notes in DiskTier).
   */
  public static boolean validCleanupThreshold(double threshold) {
    return threshold > 1 - DiskTier.REFRESH_FRACTION && threshold < 1;
  }
}
