package dev.buckcache.storage.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/*
 * Design notes
 *
 * RocksDB needs disk of its own besides the blobs it holds, and meeting ENOSPC in a flush stops
 * every write (a "hard" background error). Eviction itself writes (index and log deletes, range
 * tombstones, a compaction of the range it frees), so a store that lets the disk fill can no longer
 * evict: it wedges. The plan therefore keeps free, at all times, what RocksDB's background work
 * can take with the options RocksLayout sets from it:
 *
 *   - flushes: the data column family's memtables (max_write_buffer_number x write_buffer_size)
 *     are written to an SST while the WAL still holds them; the metadata families' memtables too;
 *   - the WAL: files stay until every family has flushed past them, up to max_total_wal_size
 *     beyond what the memtables hold;
 *   - compaction output: data compactions merge at most COMPACTION_FILES data files (the range
 *     compaction after an eviction rewrites the files at its edges; max_compaction_bytes bounds
 *     automatic ones); metadata compactions may rewrite a family whole, so the metadata files'
 *     own size is reserved on top (DiskEvictor adds it as it changes);
 *   - MANIFEST (capped at 4 MiB), LOG and OPTIONS files.
 *
 * These sizes are derived from the capacity the store can actually have, min(max_size, what its
 * filesystem holds for it at open), not from max_size alone: 64 MiB memtables and a 128 MiB WAL
 * suit a 10GB store but not a 300 MB disk, which they wedged (issue 12). The reserve is a fixed
 * share of small stores (about a third at 40 MB, 17% at 300 MB) and about 6% of a 10GB one.
 */

/** What RocksDB is configured to use, and the disk it must always find free, for one capacity. */
record SpacePlan(long capacity, long dataBuffer, long walLimit, long indexBuffer, long smallBuffer) {
  /** max_write_buffer_number of the data column family. */
  static final int DATA_BUFFERS = 3;
  /** Data files one compaction may merge (the edges of an evicted range; max_compaction_bytes). */
  static final int COMPACTION_FILES = 4;
  private static final long FIXED = 4L << 20;

  static SpacePlan forCapacity(long capacity) {
    return new SpacePlan(capacity, clamp(capacity / 64, 1L << 20, 64L << 20),
        clamp(capacity / 32, 2L << 20, 128L << 20), clamp(capacity / 128, 256L << 10, 8L << 20),
        clamp(capacity / 512, 256L << 10, 4L << 20));
  }

  /** The block cache: 64 MiB, or a quarter of a native-memory budget (8..64 MiB). */
  static long blockCache(long nativeMemory) {
    return nativeMemory <= 0 ? 64L << 20 : clamp(nativeMemory / 4, 8L << 20, 64L << 20);
  }

  /**
   * This plan with the data memtables cut to fit a native-memory budget (0: as it is): what the
   * block cache leaves, over DATA_BUFFERS + 1 (the metadata families' buffers take about one).
   */
  SpacePlan within(long nativeMemory) {
    if (nativeMemory <= 0) {
      return this;
    }
    long fits = (nativeMemory - blockCache(nativeMemory)) / (DATA_BUFFERS + 1);
    return new SpacePlan(capacity, clamp(fits, 1L << 20, dataBuffer), walLimit, indexBuffer,
        smallBuffer);
  }

  /**
   * The capacity of a store in {@code dir}: max size, or less if its filesystem cannot hold that
   * much (its files now plus the free space). One directory listing, no scan of the data.
   */
  static long capacity(Path dir, long maxSize) {
    try {
      long files = 0;
      try (var list = Files.list(dir)) {
        for (var f : (Iterable<Path>) list::iterator) {
          files += Files.isRegularFile(f) ? Files.size(f) : 0;
        }
      }
      return Math.min(maxSize, files + Files.getFileStore(dir).getUsableSpace());
    } catch (IOException e) {
      return maxSize;
    }
  }

  /** Disk kept free for flushes, the WAL, compactions and RocksDB's small files. */
  long reserve() {
    long flushes = DATA_BUFFERS * dataBuffer + 2 * (indexBuffer + 3 * smallBuffer);
    return flushes + walLimit + COMPACTION_FILES * dataBuffer + FIXED;
  }

  private static long clamp(long v, long lo, long hi) {
    return Math.max(lo, Math.min(hi, v));
  }
}
