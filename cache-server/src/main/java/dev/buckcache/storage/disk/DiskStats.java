package dev.buckcache.storage.disk;

/**
 * Disk-tier accounting at one moment.
 *
 * @param usedBytes stored bytes in the ring (committed, including not-yet-evicted dead copies)
 * @param budgetBytes the eviction trigger: max size less the reserve for RocksDB's own files
 */
public record DiskStats(
    long entries,
    long usedBytes,
    long uploadingBytes,
    long budgetBytes,
    long maxBytes,
    long evictedEntries,
    long evictedBytes,
    long refreshes) {}
