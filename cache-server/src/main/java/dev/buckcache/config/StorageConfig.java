package dev.buckcache.config;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/**
 * Storage settings, validated.
 *
 * @param dir data directory (storage.dir)
 * @param maxSize disk budget in bytes, RocksDB's own files included (storage.max_size)
 * @param cleanupThreshold eviction stops at this fraction of the budget (storage.cleanup_threshold)
 * @param memorySize memory tier bytes, 0 disables it (storage.memory_size)
 * @param compression disk encoding (storage.compression)
 * @param zstdLevel zstd level 1..19 (storage.zstd_level)
 * @param maxBlobSize largest blob accepted (storage.max_blob_size)
 * @param maxInflightBytes request bytes held in memory at once, both protocols together
 *     (storage.max_inflight_bytes)
 * @param memory how server.memory_limit splits, or null without one
 */
public record StorageConfig(
    Path dir,
    long maxSize,
    double cleanupThreshold,
    long memorySize,
    Compression compression,
    int zstdLevel,
    long maxBlobSize,
    long maxInflightBytes,
    MemoryPlan memory) {

  public StorageConfig {
    requireNonNull(dir, "dir");
    requireNonNull(compression, "compression");
  }
}
