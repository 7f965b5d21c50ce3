package dev.buckcache.storage.disk;

import dev.buckcache.storage.StoreKey;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * One entry being written. Bytes are cut into chunks of {@code chunkSize}; an entry that fits in
 * one chunk is written by its commit batch alone (one RocksDB write per small blob). Larger
 * entries write chunks as they fill, after recording their seq in {@code pending} so a crash
 * cannot leak them. A large entry of known size whose first chunk does not compress goes to a
 * file of its own instead ({@link BlobFiles}), raw, under the same pending record. Single-threaded:
 * one upload feeds it. (Many small blobs at once take
 * {@link DiskTier#writeAll} instead: one batch for all of them.)
 */
public final class DiskWrite {
  private static final byte[] NO_KEY = new byte[0];
  /** Entries of at least this many chunks may go to a file (4 MiB with 1 MiB chunks). */
  static final int FILE_CHUNKS = 4;

  private final DiskTier tier;
  private final RocksLayout db;
  private final StoreKey key;
  private final byte kind;
  private final long expectedSize;
  private final long seq;
  private final int chunkSize;
  private final byte[] writer;
  /** The chunk being filled, at {@code buffer[1, 1 + fill)}: byte 0 is its tag's (ChunkCodec). */
  private byte[] buffer;
  private int fill;
  /** Whether the last chunk written was stored raw though compression was on. */
  private boolean lastIncompressible;
  /** The entry's file, once it goes to one (its chunkNo is set at commit, from its size). */
  private FileChannel file;
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
      if (buffer != null && fill == buffer.length - 1) {
        flushChunk();
      }
      if (buffer == null || (fill == 0 && expectedSize >= 0
          && expectedSize - rawSize < buffer.length - 1)) {
        // A known last chunk gets a buffer of its own size, so a raw one is stored uncopied.
        long left = expectedSize >= 0 ? expectedSize - rawSize : chunkSize;
        buffer = new byte[(int) Math.min(chunkSize, left) + 1];
      }
      int n = Math.min(length, buffer.length - 1 - fill);
      System.arraycopy(bytes, offset, buffer, 1 + fill, n);
      fill += n;
      offset += n;
      length -= n;
      rawSize += n;
    }
  }

  /**
   * Writes {@code bytes} straight to the entry's file, once it has one (after its first chunk),
   * and returns true; else takes nothing and returns false.
   */
  public boolean write(ByteBuffer bytes) {
    if (file == null) {
      return false;
    }
    int length = bytes.remaining();
    if (expectedSize >= 0 && rawSize + length > expectedSize) {
      throw new IllegalStateException("entry grew past its declared " + expectedSize + " bytes");
    }
    if (fill > 0) {
      toFile(ByteBuffer.wrap(buffer, 1, fill));
      fill = 0;
    }
    toFile(bytes);
    rawSize += length;
    return true;
  }

  private void flushChunk() {
    if (file == null) {
      var encoded = encodeChunk();
      boolean toFile = chunkNo == 0 && !encoded.compressed()
          && expectedSize >= (long) FILE_CHUNKS * chunkSize;
      if (!toFile) {
        putChunk(encoded);
        fill = 0;
        return;
      }
      recordPending();
      file = tier.files.create(seq);
    }
    toFile(ByteBuffer.wrap(buffer, 1, fill));
    fill = 0;
  }

  private void toFile(ByteBuffer bytes) {
    int length = bytes.remaining();
    tier.reserve(length);
    tier.checkOpen();
    BlobFiles.writeFully(file, bytes, "writing " + key);
    flushedBytes += length;
    tier.pendingBytes.addAndGet(length);
  }

  /** Copy-forward of an entry in a file: a new file, copied in the kernel. */
  void copyFile(FileChannel from, long size) {
    tier.reserve(size);
    tier.checkOpen();
    recordPending();
    file = tier.files.create(seq);
    try {
      for (long at = 0; at < size; ) {
        long n = from.transferTo(at, size - at, file);
        if (n <= 0) {
          throw new dev.buckcache.storage.StorageException.Failure("copying " + key
              + ": its file ends at " + at + " of " + size + " bytes", null);
        }
        at += n;
      }
    } catch (IOException e) {
      throw BlobFiles.failure("copying " + key, e);
    }
    flushedBytes += size;
    tier.pendingBytes.addAndGet(size);
  }

  private void recordPending() {
    if (pendingRecorded) {
      return;
    }
    try {
      db.db.put(db.pending, db.writeOptions, Keys.seq(seq), NO_KEY);
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "writing " + key);
    }
    pendingRecorded = true;
  }

  private ChunkCodec.Encoded encodeChunk() {
    var encoded = tier.codec.encodeSlot(buffer, fill, lastIncompressible);
    lastIncompressible = !encoded.compressed();
    return encoded;
  }

  /** Writes an already-encoded chunk (copy-forward keeps the stored bytes as they are). */
  void copyStoredChunk(byte[] value) {
    putChunk(new ChunkCodec.Encoded(value, value.length, false));
  }

  private void putChunk(ChunkCodec.Encoded value) {
    int length = value.length();
    tier.reserve(length);
    tier.checkOpen();
    recordPending();
    try {
      var chunkKey = Keys.chunk(seq, chunkNo);
      db.db.put(db.data, db.writeOptions, chunkKey, 0, chunkKey.length, value.value(), 0, length);
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "writing " + key);
    }
    chunkNo++;
    flushedBytes += length;
    tier.pendingBytes.addAndGet(length);
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
    byte[] last = null;
    if (file != null) {
      if (fill > 0) {
        toFile(ByteBuffer.wrap(buffer, 1, fill));
        fill = 0;
      }
      closeFile();
      chunkNo = (int) ((rawSize + chunkSize - 1) / chunkSize); // the pieces a reader takes
    } else if (fill > 0) {
      last = encodeChunk().exact();
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
    var meta = new EntryMeta(seq, offset, rawSize, stored, chunks, chunkSize, kind, writer,
        tier.files.has(seq));
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
      tier.indexed(key);
    }
    finish();
    tier.committed();
  }

  /** Discards the write. Chunks already on disk become a dead log record for eviction to drop. */
  public void abort() {
    if (done) {
      return;
    }
    long dead = flushedBytes;
    if (tier.files.has(seq)) {
      try {
        closeFile();
      } catch (RuntimeException e) {
        // deleted next anyway
      }
      tier.files.delete(seq); // gone at once: its dead record holds no bytes
      dead = 0;
    }
    if (pendingRecorded && !tier.isClosed()) {
      try (var batch = new WriteBatch()) {
        batch.delete(db.pending, Keys.seq(seq));
        batch.put(db.log, Keys.seq(seq), Keys.logRecord(dead, NO_KEY));
        batch.merge(db.counters, RocksLayout.HEAD, Keys.counter(dead));
        db.db.write(db.writeOptions, batch);
        tier.head.addAndGet(dead);
      } catch (RocksDBException e) {
        // The pending record stays; the next open turns it into a dead record.
      }
    }
    finish();
  }

  private void closeFile() {
    var f = file;
    file = null;
    if (f != null) {
      try {
        f.close();
      } catch (IOException e) {
        throw BlobFiles.failure("closing the file of " + key, e);
      }
    }
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
