package dev.buckcache.storage;

import dev.buckcache.storage.disk.DiskStats;

/** Both tiers' accounting and read outcomes since start. */
public record StoreStats(
    DiskStats disk,
    long memoryEntries,
    long memoryBytes,
    long memoryHits,
    long diskHits,
    long misses) {}
