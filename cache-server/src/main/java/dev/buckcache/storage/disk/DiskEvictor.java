package dev.buckcache.storage.disk;

import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.StoreKey;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.rocksdb.CompactRangeOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.Slice;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the disk tier within its budget. One background thread; a round starts when used bytes
 * reach the budget and walks the write-order log from the oldest record until used bytes are at
 * the cleanup threshold. See the design notes in {@link DiskTier}.
 */
final class DiskEvictor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DiskEvictor.class);
  private static final int BATCH = 256;
  private static final long ROOM_WAIT_NANOS = TimeUnit.SECONDS.toNanos(30);
  private static final long TIDY_EVERY_NANOS = TimeUnit.SECONDS.toNanos(30);
  /** More small files than this in the pending or log column family get merged. */
  static final int TIDY_FILES = 8;
  private static final long SMALL_FILE = 8L << 20;

  private final DiskTier tier;
  private final RocksLayout db;
  private final Consumer<List<StoreKey>> onEvict;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition work = lock.newCondition();
  private final Condition room = lock.newCondition();
  private final AtomicLong evictedEntries = new AtomicLong();
  private final AtomicLong evictedBytes = new AtomicLong();
  private final AtomicLong waitingBytes = new AtomicLong();
  /**
   * Evicted from the accounting but still on disk until a round drops their files. Kept while a
   * drop fails (a full disk can refuse even the compaction that frees space): the bytes are still
   * there, and forgetting them would shrink the disk bound and evict more, round after round.
   */
  private final AtomicLong reclaimingBytes = new AtomicLong();
  /** The seq below which a failed drop still has to free data, or -1. */
  private volatile long undroppedSeq = -1;
  private final Thread thread;
  private volatile long metadataBytes;
  private volatile boolean closed;
  private long lowerBound;
  /** The filesystem holding the store, whose free space bounds the budget too; null if unknown. */
  private final FileStore fileStore;
  /** Free space RocksDB's own work needs at all times (see SpacePlan), metadata aside. */
  private final long reserve;
  private volatile long diskBound = Long.MAX_VALUE;
  private long lastTidy = System.nanoTime();
  /** Why the last eviction round failed (e.g. RocksDB stopped writes on a full disk); or null. */
  private volatile String failure;
  private final AtomicBoolean diskBoundLogged = new AtomicBoolean();

  DiskEvictor(DiskTier tier, Consumer<List<StoreKey>> onEvict) {
    this.tier = tier;
    this.db = tier.db;
    this.onEvict = onEvict;
    this.metadataBytes = db.metadataBytes();
    this.thread = DiskTier.daemon("buckcache-evictor").newThread(this::run);
    FileStore store = null;
    try {
      store = Files.getFileStore(tier.settings.dir());
    } catch (IOException e) {
      log.warn("cannot watch the free space of {}: {}", tier.settings.dir(), e.getMessage());
    }
    this.fileStore = store;
    this.reserve = db.plan.reserve();
    measureDisk();
  }

  void start() {
    thread.start();
  }

  /**
   * What blobs may use: max size less RocksDB's reserve and metadata, and no more than the disk
   * leaves after that same reserve, so flushes and compactions always find room (SpacePlan).
   */
  long budget() {
    return Math.min(configuredBudget(), diskBound);
  }

  private long configuredBudget() {
    return tier.settings.maxSize() - reserve - metadataBytes;
  }

  /**
   * Re-reads the filesystem's free space. A store whose max size is more than its disk holds
   * (or whose disk other files fill) keeps within the disk: eviction makes room before RocksDB
   * ever meets ENOSPC, so a full disk makes a smaller cache, not failed writes. Bytes of uploads
   * in progress are not counted as on disk, which errs on the safe side. One statvfs call.
   */
  void measureDisk() {
    if (fileStore == null) {
      return;
    }
    try {
      long onDisk = tier.head.get() - tier.tail.get() + reclaimingBytes.get();
      // The metadata files are on disk already; their size is reserved again because a
      // compaction may rewrite them whole.
      long bound = onDisk + fileStore.getUsableSpace() - reserve - metadataBytes;
      diskBound = bound;
      if (bound < configuredBudget() && diskBoundLogged.compareAndSet(false, true)) {
        log.warn("the disk holding {} has room for about {} bytes of blobs, less than max_size "
            + "allows ({}): the store keeps within the disk, evicting earlier", tier.settings.dir(),
            bound, configuredBudget());
      }
    } catch (IOException e) {
      diskBound = Long.MAX_VALUE;
    }
  }

  /** Bytes on disk as writers must see them: stored, uploading, and evicted but not yet freed. */
  long used() {
    return logicalUsed() + reclaimingBytes.get();
  }

  private long logicalUsed() {
    return tier.head.get() - tier.tail.get() + tier.pendingBytes.get();
  }

  long evictedEntries() {
    return evictedEntries.get();
  }

  long evictedBytes() {
    return evictedBytes.get();
  }

  /** A round is due when stored bytes plus what writers wait to write reach the budget. */
  private boolean due() {
    return used() + waitingBytes.get() >= budget();
  }

  void nudge() {
    if (due()) {
      signal(work);
    }
  }

  /** Blocks a writer until {@code bytes} more fit in the budget; StoreFull after 30 s. */
  void awaitRoom(long bytes) {
    measureDisk();
    if (used() + bytes <= budget()) {
      return;
    }
    long deadline = System.nanoTime() + ROOM_WAIT_NANOS;
    waitingBytes.addAndGet(bytes);
    lock.lock();
    try {
      while (used() + bytes > budget() && !closed) {
        work.signal();
        measureDisk();
        var failed = failure;
        if (failed != null) {
          throw new StorageException.StoreFull("store is full and eviction failed: " + failed, null);
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new StorageException.StoreFull(
              "store is full: " + used() + " of " + budget() + " bytes used"
                  + (diskBound < configuredBudget() ? " (the disk's free space sets this limit)" : "")
                  + ", eviction cannot free "
                  + "more (uploads in progress hold " + tier.pendingBytes.get() + " bytes)", null);
        }
        room.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StorageException.Busy("interrupted while waiting for room in the store");
    } finally {
      lock.unlock();
      waitingBytes.addAndGet(-bytes);
    }
  }

  private void run() {
    while (!closed) {
      lock.lock();
      try {
        if (!due()) {
          work.await(1, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        return;
      } finally {
        lock.unlock();
      }
      try {
        metadataBytes = db.metadataBytes();
        measureDisk();
        evictIfNeeded();
        failure = null;
        if (undroppedSeq >= 0) {
          sleepQuietly(); // the disk refused the drop: try again in a second, not in a spin
        }
        if (System.nanoTime() - lastTidy > TIDY_EVERY_NANOS) {
          lastTidy = System.nanoTime();
          tidy();
        }
      } catch (RuntimeException e) {
        if (!java.util.Objects.equals(failure, e.getMessage())) {
          log.error("eviction round failed (retried every second): {}", e.getMessage(), e);
        }
        failure = e.getMessage();
        signal(room); // writers waiting for room get the reason now, not after 30 s
        sleepQuietly();
      }
    }
  }

  /**
   * Merges the small files of the pending and log column families. Their keys are sequential,
   * so every flush adds a small file at the end of the key space that no automatic compaction
   * ever merges (each is a trivial move to the last level): without this a store gains a file
   * per flush, forever (the soak test found open files growing by about six a minute). Only
   * the range the small files cover is rewritten, so the cost follows what was flushed lately,
   * not the size of the log; deletes in pending cancel their puts on the way.
   */
  synchronized void tidy() {
    var small = new java.util.HashMap<String, List<org.rocksdb.LiveFileMetaData>>();
    for (var file : db.db.getLiveFilesMetaData()) {
      var cf = new String(file.columnFamilyName(), java.nio.charset.StandardCharsets.UTF_8);
      if ((cf.equals("pending") || cf.equals("log")) && file.size() < SMALL_FILE) {
        small.computeIfAbsent(cf, k -> new ArrayList<>()).add(file);
      }
    }
    for (var entry : small.entrySet()) {
      var files = entry.getValue();
      if (files.size() <= TIDY_FILES) {
        continue;
      }
      byte[] from = files.get(0).smallestKey();
      byte[] to = files.get(0).largestKey();
      for (var f : files) {
        from = java.util.Arrays.compareUnsigned(f.smallestKey(), from) < 0 ? f.smallestKey() : from;
        to = java.util.Arrays.compareUnsigned(f.largestKey(), to) > 0 ? f.largestKey() : to;
      }
      var cf = entry.getKey().equals("pending") ? db.pending : db.log;
      try (var options = new CompactRangeOptions().setExclusiveManualCompaction(false)
          .setBottommostLevelCompaction(CompactRangeOptions.BottommostLevelCompaction.kForce)) {
        db.db.compactRange(cf, from, to, options);
      } catch (RocksDBException e) {
        log.warn("merging {} small files of {} failed (tried again later): {}", files.size(),
            entry.getKey(), e.getMessage());
      }
    }
  }

  synchronized void evictIfNeeded() {
    if (closed || (!due() && undroppedSeq < 0)) {
      return;
    }
    long target = (long) (budget() * tier.settings.cleanupThreshold()) - waitingBytes.get();
    long started = System.nanoTime();
    long before = used();
    int count = evictTo(target);
    log.debug("evicted {} entries, {} -> {} bytes in {} ms", count, before, used(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
  }

  private int evictTo(long target) {
    var evicted = new ArrayList<StoreKey>();
    long lastSeq = -1;
    // Taken before the iterator: a write not in flight now, with a seq below the bound, has its
    // log record in the iterator's view, so dropping data below lastSeq spares only inFlight.
    var inFlight = tier.inFlight();
    try (var bound = new Slice(Keys.seq(lowerBound));
        var upper = new Slice(Keys.seq(inFlight.nextSeq()));
        var options = new ReadOptions().setIterateLowerBound(bound).setIterateUpperBound(upper);
        var it = db.db.newIterator(db.log, options)) {
      it.seekToFirst();
      while (it.isValid()) {
        // Read once: writers and deletes move it, and a second read could find nothing to do.
        long excess = logicalUsed() - target;
        if (excess <= 0) {
          break;
        }
        var records = new ArrayList<byte[][]>(BATCH);
        for (int i = 0; i < BATCH && it.isValid() && excess > 0; i++, it.next()) {
          records.add(new byte[][] {it.key(), it.value()});
          excess -= Keys.logStoredBytes(it.value());
        }
        lastSeq = Keys.seqOf(records.get(records.size() - 1)[0]);
        evicted.addAll(evictRecords(records));
      }
    }
    if (!evicted.isEmpty()) {
      safeNotify(evicted);
    }
    long drop = Math.max(lastSeq, undroppedSeq); // a failed drop is retried with the next round
    if (drop < 0 || dropData(drop, inFlight.inFlight())) {
      reclaimingBytes.set(0);
      undroppedSeq = -1;
    } else {
      undroppedSeq = drop;
    }
    signal(room);
    return evicted.size();
  }

  /** Deletes a batch of log records and the index records that still point at them. */
  private List<StoreKey> evictRecords(List<byte[][]> records) {
    var keys = new ArrayList<StoreKey>();
    var named = new ArrayList<StoreKey>();
    for (var r : records) {
      var entryKey = Keys.logEntryKey(r[1]);
      if (entryKey.length > 0) {
        named.add(StoreKey.wrap(entryKey));
      }
    }
    var locks = tier.lockAll(named);
    try (var batch = new WriteBatch()) {
      long freed = 0;
      for (var r : records) {
        freed += Keys.logStoredBytes(r[1]);
        batch.delete(db.log, r[0]);
        var entryKey = Keys.logEntryKey(r[1]);
        if (entryKey.length > 0 && pointsAt(entryKey, Keys.seqOf(r[0]))) {
          batch.delete(db.index, entryKey);
          keys.add(StoreKey.wrap(entryKey));
        }
      }
      batch.merge(db.counters, RocksLayout.TAIL, Keys.counter(freed));
      batch.merge(db.counters, RocksLayout.ENTRIES, Keys.counter(-keys.size()));
      db.db.write(db.writeOptions, batch);
      reclaimingBytes.addAndGet(freed);
      tier.tail.addAndGet(freed);
      tier.entries.addAndGet(-keys.size());
      keys.forEach(tier::unindexed);
      evictedBytes.addAndGet(freed);
      evictedEntries.addAndGet(keys.size());
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "evicting");
    } finally {
      DiskTier.unlock(locks);
    }
    return keys;
  }

  private boolean pointsAt(byte[] entryKey, long seq) {
    var meta = tier.lookup(StoreKey.wrap(entryKey));
    return meta != null && meta.seq() == seq;
  }

  /**
   * Frees the data of everything below {@code lastSeq}, except uploads in progress: a range
   * tombstone (so compaction drops partly covered files' dead chunks) and whole-file drops.
   */
  private boolean dropData(long lastSeq, java.util.NavigableSet<Long> inFlight) {
    var ranges = new ArrayList<long[]>();
    long start = 0;
    var pending = inFlight.headSet(lastSeq + 1);
    for (long p : pending) {
      if (p > start) {
        ranges.add(new long[] {start, p});
      }
      start = p + 1;
    }
    if (start <= lastSeq) {
      ranges.add(new long[] {start, lastSeq + 1});
    }
    lowerBound = pending.isEmpty() ? lastSeq + 1 : Math.min(lastSeq + 1, pending.first());
    try {
      var slices = new ArrayList<byte[]>();
      for (var r : ranges) {
        db.db.deleteRange(db.data, db.writeOptions, Keys.chunk(r[0], 0), Keys.chunk(r[1], 0));
        slices.add(Keys.chunk(r[0], 0));
        slices.add(Keys.chunk(r[1], 0));
      }
      db.db.deleteFilesInRanges(db.data, slices, false);
      tier.files.deleteThrough(lastSeq, inFlight::contains);
      try (var options = new CompactRangeOptions().setExclusiveManualCompaction(false)) {
        db.db.compactRange(db.data, Keys.chunk(0, 0), Keys.chunk(lastSeq + 1, 0), options);
        db.db.compactRange(db.log, Keys.seq(0), Keys.seq(lowerBound), options);
      }
      return true;
    } catch (RocksDBException e) {
      log.warn("freeing evicted data files failed (retried next round; the store counts them as "
          + "on disk until then): {}", e.getMessage());
      return false;
    }
  }

  private void safeNotify(List<StoreKey> keys) {
    try {
      onEvict.accept(keys);
    } catch (RuntimeException e) {
      log.warn("eviction listener failed: {}", e.getMessage(), e);
    }
  }

  private void signal(Condition condition) {
    lock.lock();
    try {
      condition.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private static void sleepQuietly() {
    try {
      Thread.sleep(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    close(TimeUnit.SECONDS.toNanos(10));
  }

  /** Stops the thread; true once it has ended (a round in progress finishes its RocksDB call). */
  boolean close(long timeoutNanos) {
    closed = true;
    signal(work);
    signal(room);
    thread.interrupt();
    try {
      thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(timeoutNanos)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return !thread.isAlive();
  }
}
