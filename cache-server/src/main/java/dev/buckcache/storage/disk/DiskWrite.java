package dev.buckcache.storage.disk;

import dev.buckcache.storage.StoreKey;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * One entry being written. Bytes are cut into chunks of {@code chunkSize}; an entry that fits in
 * one chunk is written by its commit batch alone (one RocksDB write per small blob). Larger
 * entries write chunks as they fill, after recording their seq in {@code pending} so a crash
 * cannot leak them. Single-threaded: one upload feeds it. (Many small blobs at once take
 * {@link DiskTier#writeAll} instead: one batch for all of them.)
 */
public final class DiskWrite {
  private static final byte[] NO_KEY = new byte[0];

  private final DiskTier tier;
  private final RocksLayout db;
  private final StoreKey key;
  private final byte kind;
  private final long expectedSize;
  private final long seq;
  private final int chunkSize;
  private final byte[] writer;
  private byte[] buffer;
  private int fill;
  private int chunkNo;
  private long rawSize;
  private long flushedBytes;
  private boolean pendingRecorded;
  private boolean done;

  DiskWrite(DiskTier tier, StoreKey key, byte kind, long expectedSize, long seq, byte[] writer) {
    this.tier = tier;
    this.writer = writer;
    this.db = tier.db;
    this.key = key;
    this.kind = kind;
    this.expectedSize = expectedSize;
    this.seq = seq;
    this.chunkSize = tier.settings.chunkSize();
  }

  public void write(byte[] bytes, int offset, int length) {
    if (expectedSize >= 0 && rawSize + length > expectedSize) {
      throw new IllegalStateException("entry grew past its declared " + expectedSize + " bytes");
    }
    while (length > 0) {
      if (buffer == null) {
        buffer = new byte[(int) Math.min(chunkSize, expectedSize >= 0 ? expectedSize : chunkSize)];
      }
      if (fill == buffer.length) {
        flushChunk();
      }
      int n = Math.min(length, buffer.length - fill);
      System.arraycopy(bytes, offset, buffer, fill, n);
      fill += n;
      offset += n;
      length -= n;
      rawSize += n;
    }
  }

  private void flushChunk() {
    putChunk(tier.codec.encode(buffer, fill));
    fill = 0;
  }

  /** Writes an already-encoded chunk (copy-forward keeps the stored bytes as they are). */
  void copyStoredChunk(byte[] value) {
    putChunk(value);
  }

  private void putChunk(byte[] value) {
    tier.reserve(value.length);
    tier.checkOpen();
    try {
      if (!pendingRecorded) {
        db.db.put(db.pending, db.writeOptions, Keys.seq(seq), NO_KEY);
        pendingRecorded = true;
      }
      db.db.put(db.data, db.writeOptions, Keys.chunk(seq, chunkNo), value);
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "writing " + key);
    }
    chunkNo++;
    flushedBytes += value.length;
    tier.pendingBytes.addAndGet(value.length);
  }

  /**
   * Makes the entry visible. For CAS entries that another writer stored first, this write is
   * dropped instead (same content). Returns whether this write became the entry.
   */
  public boolean commit() {
    return commitIf(null);
  }

  /** Commits a copy-forward of {@code old}, unless the entry changed meanwhile. */
  boolean commitRefresh(EntryMeta old) {
    rawSize = old.size();
    return commitIf(old);
  }

  private boolean commitIf(EntryMeta refreshOf) {
    byte[] last = fill > 0 ? tier.codec.encode(buffer, fill) : null;
    if (last != null) {
      tier.reserve(last.length);
    }
    var lock = tier.lockFor(key);
    lock.lock();
    try {
      var existing = tier.lookup(key);
      boolean stale = refreshOf != null && existing != null && existing.seq() != refreshOf.seq();
      boolean duplicate = refreshOf == null && kind == DiskTier.KIND_CAS && existing != null;
      if (stale || duplicate) {
        abort();
        return false;
      }
      writeCommit(last, existing == null);
      return true;
    } finally {
      lock.unlock();
    }
  }

  private void writeCommit(byte[] last, boolean isNew) {
    tier.checkOpen();
    long stored = flushedBytes + (last == null ? 0 : last.length);
    int chunks = chunkNo + (last == null ? 0 : 1);
    long offset = tier.head.getAndAdd(stored);
    var meta = new EntryMeta(seq, offset, rawSize, stored, chunks, chunkSize, kind, writer);
    try (var batch = new WriteBatch()) {
      if (last != null) {
        batch.put(db.data, Keys.chunk(seq, chunkNo), last);
      }
      if (pendingRecorded) {
        batch.delete(db.pending, Keys.seq(seq));
      }
      tier.recordEntry(batch, key, meta);
      batch.merge(db.counters, RocksLayout.HEAD, Keys.counter(stored));
      if (isNew) {
        batch.merge(db.counters, RocksLayout.ENTRIES, Keys.counter(1));
      }
      db.db.write(db.writeOptions, batch);
    } catch (RocksDBException e) {
      tier.head.addAndGet(-stored);
      abort();
      throw DiskErrors.wrap(e, "committing " + key);
    }
    if (isNew) {
      tier.entries.incrementAndGet();
    }
    finish();
    tier.committed();
  }

  /** Discards the write. Chunks already on disk become a dead log record for eviction to drop. */
  public void abort() {
    if (done) {
      return;
    }
    if (pendingRecorded && !tier.isClosed()) {
      try (var batch = new WriteBatch()) {
        batch.delete(db.pending, Keys.seq(seq));
        batch.put(db.log, Keys.seq(seq), Keys.logRecord(flushedBytes, NO_KEY));
        batch.merge(db.counters, RocksLayout.HEAD, Keys.counter(flushedBytes));
        db.db.write(db.writeOptions, batch);
        tier.head.addAndGet(flushedBytes);
      } catch (RocksDBException e) {
        // The pending record stays; the next open turns it into a dead record.
      }
    }
    finish();
  }

  private void finish() {
    done = true;
    buffer = null;
    tier.pendingBytes.addAndGet(-flushedBytes);
    tier.pendingSeqs.remove(seq);
  }

  public long rawSize() {
    return rawSize;
  }
}
