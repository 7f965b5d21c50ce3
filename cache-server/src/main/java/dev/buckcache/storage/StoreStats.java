package dev.buckcache.storage;

import dev.buckcache.storage.disk.DiskStats;

/**
 * Both tiers' accounting and CAS read outcomes since start. The hits and misses count CAS reads
 * only (action-cache reads have their own counters), the same counters as
 * {@code buckcache_store_reads_total{kind="cas"}}, so the status page and Prometheus agree.
 *
 * @param openReaders disk readers not yet closed
 * @param openWriters disk writes neither committed nor aborted
 */
public record StoreStats(
    DiskStats disk,
    long memoryEntries,
    long memoryBytes,
    long memoryHits,
    long diskHits,
    long misses,
    long openReaders,
    long openWriters) {}
