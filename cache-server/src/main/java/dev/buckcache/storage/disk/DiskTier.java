package dev.buckcache.storage.disk;

import static java.util.Objects.requireNonNull;

import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.StoreKey;
import dev.buckcache.storage.StoredChunk;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Design notes
 *
 * The disk tier is a ring in write order laid over RocksDB (column families: see RocksLayout).
 * Every write gets a fresh sequence number `seq`; its chunks are keys `seq ++ chunkNo` in `data`,
 * so data files hold ascending, mostly disjoint seq ranges. Committing writes one atomic batch:
 * the `index` record (key -> seq, size, ring offset), a `log` record (seq -> stored bytes, key),
 * and the `head` counter. A blob is therefore visible only when complete.
 *
 * Accounting. `head` is the sum of stored bytes ever committed, `tail` the sum ever evicted; both
 * are persisted as uint64add merges inside the same batches that change them, so they survive
 * crashes exactly and reopen costs two point reads, not a scan. used = head - tail + bytes of
 * uploads in progress.
 *
 * Eviction (DiskEvictor) walks `log` from the oldest seq, deletes index and log records, advances
 * `tail`, then drops whole data files below the last evicted seq: cost proportional to what is
 * evicted. Uploads in progress keep their seqs out of the dropped ranges.
 *
 * Recency. A pure ring is FIFO. To make it LRU-like, a read or presence check of an entry that
 * fewer than half a budget of new writes would evict copies it forward (a new seq at the head,
 * same stored bytes; Buildbarn's "refresh" idea). Eviction frees (1 - cleanup threshold) of the
 * budget per round, less than half, so an entry read since it came within reach is never the next
 * to go; a hot set survives any flood of new writes, and a store far from full copies nothing.
 * Copies run on one background thread, at most one per key. "Less than half" is enforced, not
 * assumed: storage.cleanup_threshold must lie in (0.5, 1) (DiskSettings.validCleanupThreshold;
 * ConfigLoader names the key). Deriving the window from a lower threshold instead would widen it
 * to most of the ring, so nearly every read would copy its entry (write amplification that grows
 * as the threshold falls), and a round that throws away more than half the cache is not a setting
 * anyone needs.
 *
 * Files. A blob of known size, at least DiskWrite.FILE_CHUNKS chunks (4 MiB), whose first chunk
 * does not compress (or with compression off) is written raw to a file of its own instead,
 * `blobs/<seq>` beside RocksDB's files, under the same pending record, index and log records and
 * ring accounting as chunks (its index record says so: EntryMeta.inFile). Data that will not
 * compress gains nothing from RocksDB and pays its WAL, memtable, flush and compaction copies;
 * a plain file costs one write, and the HTTP front end sends it with sendfile (zero copy). The
 * file exists before its index record and is deleted only when eviction passes its seq (a
 * stream holds it open, so an evicted file still reads to the end), when its upload is aborted,
 * or, after a crash, on open: a pending seq's file, and a file whose seq has no log record
 * (evicted just before the crash). Copy-forward copies the file (in the kernel).
 *
 * Crashes. An upload records its seq in `pending` before writing chunks and removes it in its
 * commit batch. On open, leftover pending seqs become dead log records sized by RocksDB's
 * approximate range size, so eviction reclaims their space: nothing leaks, nothing partial is
 * readable (there is no index record).
 *
 * Batches. A gRPC BatchUpdateBlobs of small blobs (each at most one chunk) is verified above
 * this tier and committed by writeAll as one WriteBatch: every blob's data, log and index record
 * and the counters, so one WAL append for the request where one commit per blob cost one each
 * (and a disk-space check each). It needs no pending record: nothing is written before the
 * batch, and the batch is atomic, so a crash keeps all of it or none.
 *
 * Concurrency. Index mutations for one key (commit, refresh, eviction) hold that key's lock
 * stripe; readers take no locks. Whoever holds several stripes (an eviction batch, writeAll)
 * takes them through lockAll, in stripe order, so two of them never deadlock. Streaming reads
 * use an iterator, which pins the files it reads, so eviction cannot tear a read in progress.
 *
 * Space. The budget keeps free what RocksDB's flushes, WAL and compactions need (SpacePlan, sized
 * from the disk the store can really have), so eviction, which writes too, always has room.
 *
 * Presence. A PresenceIndex (64-bit fingerprints of every indexed key, about 16 bytes per entry)
 * answers "certainly absent" for find and sizesOf without RocksDB: the missing half of a
 * FindMissingBlobs and a cold build's lookups. It is changed where `entries` is, under the key's
 * lock after the write (indexed, unindexed), so it holds every key the index holds. It is built
 * after open by a background scan of the index; until the scan ends every lookup goes to
 * RocksDB. The scan adds a key under its lock unless the key was added or removed since the scan
 * began (those changes already tell the truth), so the build races with no commit or eviction.
 *
 * Stopping. close() stops the evictor, the copy-forward thread and the presence scan and waits
 * for them, then closes every stream still open (each stream's methods and close are
 * synchronized, so an iterator is never freed under a read in progress), then RocksDB. Calls
 * after close fail with "the store is closed" instead of reaching freed native handles. A
 * background thread that will not stop leaves RocksDB open: a leak until exit beats a native
 * crash.
 */

/** The RocksDB-backed tier: durable, chunked, zstd-compressed, evicting in LRU order. */
public final class DiskTier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DiskTier.class);

  public static final byte KIND_CAS = 0;
  public static final byte KIND_AC_RESULT = 1;
  public static final byte KIND_AC_RAW = 2;

  /** Entries whose ring offset lies in this oldest fraction of the ring are copied forward. */
  static final double REFRESH_FRACTION = 0.5;

  private static final byte[] EMPTY = new byte[0];

  final DiskSettings settings;
  final RocksLayout db;
  final ChunkCodec codec;
  final AtomicLong head = new AtomicLong();
  final AtomicLong tail = new AtomicLong();
  final AtomicLong entries = new AtomicLong();
  final AtomicLong pendingBytes = new AtomicLong();
  final ConcurrentSkipListSet<Long> pendingSeqs = new ConcurrentSkipListSet<>();
  /** Large incompressible entries, a file each. */
  final BlobFiles files;
  private final AtomicLong nextSeq = new AtomicLong();
  private final AtomicLong refreshes = new AtomicLong();
  private final ReentrantLock[] stripes = new ReentrantLock[1024];
  private final Set<StoreKey> refreshing = ConcurrentHashMap.newKeySet();
  private final ThreadPoolExecutor refresher;
  /** Which keys are indexed; consulted once built (see Presence above). */
  final PresenceIndex presence = new PresenceIndex();
  private volatile boolean presenceBuilt;
  /** While the presence index is built: fingerprints of keys indexed or unindexed meanwhile. */
  private volatile Set<Long> presenceTouched = ConcurrentHashMap.newKeySet();
  private Thread presenceBuilder;
  private final DiskEvictor evictor;
  private final DiskListener listener;
  /** Streams not yet closed; closing the tier closes them before RocksDB. Guards `closed`. */
  private final Set<ChunkStream> openStreams = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private DiskTier(DiskSettings settings, RocksLayout db, DiskListener listener)
      throws RocksDBException {
    this.settings = settings;
    this.db = db;
    this.codec = new ChunkCodec(settings.compress(), settings.zstdLevel());
    this.files = BlobFiles.open(settings.dir(), db.readOnly);
    for (int i = 0; i < stripes.length; i++) {
      stripes[i] = new ReentrantLock();
    }
    loadCounters();
    this.listener = listener;
    if (db.readOnly) {
      this.refresher = null;
      this.evictor = null;
      return;
    }
    recoverPending();
    this.refresher =
        new ThreadPoolExecutor(
            1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(4096), daemon("buckcache-refresh"));
    this.evictor = new DiskEvictor(this, listener::evicted);
  }

  /**
   * Opens an existing store to read it and change nothing: RocksDB read-only (the WAL replayed in
   * memory only), no evictor, no copy-forward, no recovery of interrupted uploads (the next
   * normal open does that). Writes fail. For {@code buckcache verify} on a stopped server.
   */
  public static DiskTier openReadOnly(DiskSettings settings) {
    requireNonNull(settings, "settings");
    RocksLayout layout;
    try {
      layout = RocksLayout.openReadOnly(settings);
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "opening the store in " + settings.dir() + " read-only");
    }
    try {
      return new DiskTier(settings, layout, DiskListener.NONE);
    } catch (RocksDBException | RuntimeException e) {
      layout.close();
      throw e instanceof RocksDBException re ? DiskErrors.wrap(re, "opening the store") : (RuntimeException) e;
    }
  }

  /** Whether this tier was opened by {@link #openReadOnly}. */
  public boolean readOnly() {
    return db.readOnly;
  }

  /**
   * Opens (or creates) the store in {@code settings.dir()}.
   *
   * @param listener told what eviction removed and where copies moved, so upper tiers follow
   */
  public static DiskTier open(DiskSettings settings, DiskListener listener) {
    requireNonNull(settings, "settings");
    requireNonNull(listener, "listener");
    RocksLayout layout;
    try {
      layout = RocksLayout.open(settings);
    } catch (RocksDBException e) {
      if (String.valueOf(e.getMessage()).contains("lock")) {
        throw new StorageException.Failure("store directory " + settings.dir()
            + " is in use by another buckcache process (its RocksDB LOCK is held)", e);
      }
      throw DiskErrors.wrap(e, "opening the store in " + settings.dir());
    }
    try {
      var tier = new DiskTier(settings, layout, listener);
      tier.evictor.start();
      tier.presenceBuilder = daemon("buckcache-presence").newThread(tier::buildPresence);
      tier.presenceBuilder.start();
      return tier;
    } catch (RocksDBException | RuntimeException e) {
      layout.close();
      throw e instanceof RocksDBException re ? DiskErrors.wrap(re, "opening the store") : (RuntimeException) e;
    }
  }

  private void loadCounters() throws RocksDBException {
    head.set(Keys.counterValue(db.db.get(db.counters, RocksLayout.HEAD)));
    tail.set(Keys.counterValue(db.db.get(db.counters, RocksLayout.TAIL)));
    entries.set(Keys.counterValue(db.db.get(db.counters, RocksLayout.ENTRIES)));
    long last = Math.max(lastSeq(db.data), Math.max(lastSeq(db.log), lastSeq(db.pending)));
    last = Math.max(last, files.lastSeq());
    nextSeq.set(last + 1);
  }

  private long lastSeq(org.rocksdb.ColumnFamilyHandle cf) {
    try (var it = db.db.newIterator(cf)) {
      it.seekToLast();
      return it.isValid() ? Keys.seqOf(it.key()) : -1;
    }
  }

  /** Turns uploads a crash interrupted into dead log records, so eviction reclaims their space. */
  private void recoverPending() throws RocksDBException {
    var seqs = new ArrayList<Long>();
    try (var it = db.db.newIterator(db.pending)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        seqs.add(Keys.seqOf(it.key()));
      }
    }
    for (long seq : seqs) {
      var range = new org.rocksdb.Range(
          new Slice(Keys.chunk(seq, 0)), new Slice(Keys.chunk(seq + 1, 0)));
      long bytes = db.db.getApproximateSizes(db.data, List.of(range),
          org.rocksdb.SizeApproximationFlag.INCLUDE_FILES,
          org.rocksdb.SizeApproximationFlag.INCLUDE_MEMTABLES)[0];
      files.delete(seq);
      try (var batch = new WriteBatch()) {
        batch.deleteRange(db.data, Keys.chunk(seq, 0), Keys.chunk(seq + 1, 0));
        batch.delete(db.pending, Keys.seq(seq));
        batch.put(db.log, Keys.seq(seq), Keys.logRecord(bytes, EMPTY));
        batch.merge(db.counters, RocksLayout.HEAD, Keys.counter(bytes));
        db.db.write(db.writeOptions, batch);
      }
      head.addAndGet(bytes);
    }
    if (!seqs.isEmpty()) {
      log.info("recovered {} interrupted upload(s) from before the last shutdown", seqs.size());
    }
    // A file whose seq has no log record was evicted by a process that stopped before deleting it.
    int orphans = files.deleteUnless(seq -> {
      try {
        return db.db.get(db.log, Keys.seq(seq)) != null;
      } catch (RocksDBException e) {
        return true; // keep it: eviction deletes it once its seq is passed
      }
    });
    if (orphans > 0) {
      log.info("deleted {} blob file(s) that eviction had dropped before the last shutdown",
          orphans);
    }
  }

  // ---------------------------------------------------------------------------------- reads

  /** The index record, or null. */
  EntryMeta lookup(StoreKey key) {
    checkOpen();
    try {
      var bytes = db.db.get(db.index, key.bytes());
      return bytes == null ? null : EntryMeta.decode(bytes);
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "looking up " + key);
    }
  }

  /** Index records for many keys at once (null where absent), in order. */
  List<EntryMeta> lookupAll(List<StoreKey> keys) {
    var raw = new ArrayList<byte[]>(keys.size());
    keys.forEach(k -> raw.add(k.bytes()));
    checkOpen();
    try {
      var values = db.db.multiGetAsList(java.util.Collections.nCopies(keys.size(), db.index), raw);
      var out = new ArrayList<EntryMeta>(values.size());
      values.forEach(v -> out.add(v == null ? null : EntryMeta.decode(v)));
      return out;
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "looking up " + keys.size() + " keys");
    }
  }

  /** Present and of the given kind; moves recency. */
  public Entry find(StoreKey key) {
    if (presenceBuilt && !presence.mayContain(key)) {
      return null;
    }
    var meta = lookup(key);
    if (meta != null) {
      touch(key, meta);
    }
    return meta == null ? null : new Entry(key, meta);
  }

  /** Sizes of many entries (-1 where absent); moves recency of those found. */
  public long[] sizesOf(List<StoreKey> keys) {
    var out = new long[keys.size()];
    Arrays.fill(out, -1);
    boolean built = presenceBuilt;
    var ask = new ArrayList<StoreKey>(keys.size());
    var where = new int[keys.size()];
    for (int i = 0; i < out.length; i++) {
      if (!built || presence.mayContain(keys.get(i))) {
        where[ask.size()] = i;
        ask.add(keys.get(i));
      }
    }
    if (ask.isEmpty()) {
      return out;
    }
    var metas = lookupAll(ask);
    for (int j = 0; j < metas.size(); j++) {
      var meta = metas.get(j);
      if (meta != null) {
        out[where[j]] = meta.size();
        touch(ask.get(j), meta);
      }
    }
    return out;
  }

  /** A new key was indexed: called under its lock, after the write. */
  void indexed(StoreKey key) {
    presence.add(changing(key));
  }

  /** A key's index record was deleted: called under its lock, after the write. */
  void unindexed(StoreKey key) {
    presence.remove(changing(key));
  }

  /** The key's fingerprint, noted as changed if the presence scan is still running. */
  private long changing(StoreKey key) {
    long fp = PresenceIndex.fingerprint(key.bytes());
    var touched = presenceTouched;
    if (touched != null) {
      touched.add(fp);
    }
    return fp;
  }

  /** Waits for the presence scan after open to end (tests, audits); false on timeout. */
  boolean awaitPresence(java.time.Duration timeout) {
    var builder = presenceBuilder;
    if (builder == null) {
      return presenceBuilt;
    }
    try {
      builder.join(Math.max(1, timeout.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return presenceBuilt;
  }

  /** Whether the presence index is built (lookups of absent keys skip RocksDB). */
  boolean presenceBuilt() {
    return presenceBuilt;
  }

  /** Scans the index into the presence index; runs once, on its own thread, after open. */
  private void buildPresence() {
    long start = System.nanoTime();
    var touched = presenceTouched;
    try (var options = new ReadOptions().setFillCache(false);
        var it = db.db.newIterator(db.index, options)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        if (closed) {
          return;
        }
        var key = StoreKey.wrap(it.key());
        long fp = PresenceIndex.fingerprint(key.bytes());
        var lock = lockFor(key);
        lock.lock();
        try {
          if (!touched.contains(fp)) {
            presence.add(fp);
          }
        } finally {
          lock.unlock();
        }
      }
      it.status();
    } catch (RocksDBException | RuntimeException e) {
      log.warn("the presence index was not built; lookups of absent keys go to RocksDB: {}",
          e.toString());
      return;
    }
    presenceBuilt = true;
    presenceTouched = null;
    log.info("presence index built: {} keys, {} MB, in {} ms", presence.size(),
        String.format(java.util.Locale.ROOT, "%.1f", presence.bytes() / 1e6),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
  }

  /** The whole value of a single-chunk entry, or null if it vanished under eviction. */
  public byte[] readWhole(Entry entry) {
    var meta = entry.meta;
    if (meta.chunkCount() == 0) {
      return EMPTY;
    }
    if (meta.chunkCount() > 1) {
      throw new IllegalArgumentException("entry has " + meta.chunkCount() + " chunks");
    }
    checkOpen();
    try {
      var value = db.db.get(db.data, Keys.chunk(meta.seq(), 0));
      return value == null ? null : codec.decode(value, meta.rawLength(0));
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "reading " + entry.key);
    }
  }

  /** Opens a consistent chunk stream, or returns null if the entry vanished under eviction. */
  public ChunkStream stream(Entry entry, long offset) {
    var meta = entry.meta;
    if (offset < 0 || offset > meta.size()) {
      throw new IllegalArgumentException("offset " + offset + " outside 0.." + meta.size());
    }
    var stream = new ChunkStream(meta, offset);
    if (!stream.positioned()) {
      stream.close();
      return null;
    }
    return stream;
  }

  /** A located entry: what a reader needs to stream it. */
  public static final class Entry {
    final StoreKey key;
    final EntryMeta meta;

    Entry(StoreKey key, EntryMeta meta) {
      this.key = key;
      this.meta = meta;
    }

    public long size() {
      return meta.size();
    }

    public byte kind() {
      return meta.kind();
    }

    public int chunkCount() {
      return meta.chunkCount();
    }

    /** The entry's position in the ring, which lets upper tiers ask whether it needs a refresh. */
    public long ringOffset() {
      return meta.offset();
    }
  }

  /**
   * Streams an entry's chunks from a pinned view of the data column family, or the pieces of its
   * file from an open channel (which keeps the file readable if eviction deletes it meanwhile).
   */
  public final class ChunkStream implements AutoCloseable {
    private final EntryMeta meta;
    private final Slice upperBound;
    private final ReadOptions options;
    private RocksIterator iterator;
    private final FileChannel file;
    private int chunkNo;
    private int skip;
    private boolean streamClosed;

    private ChunkStream(EntryMeta meta, long offset) {
      this.meta = meta;
      this.chunkNo = meta.chunkSize() == 0 ? 0 : (int) (offset / meta.chunkSize());
      this.skip = meta.chunkSize() == 0 ? 0 : (int) (offset % meta.chunkSize());
      if (meta.inFile()) {
        this.upperBound = null;
        this.options = null;
        synchronized (openStreams) {
          if (closed) {
            throw storeClosed();
          }
          this.file = files.openRead(meta.seq());
          openStreams.add(this);
        }
        return;
      }
      this.file = null;
      this.upperBound = new Slice(Keys.chunk(meta.seq() + 1, 0));
      this.options = new ReadOptions().setIterateUpperBound(upperBound).setFillCache(false);
      synchronized (openStreams) {
        if (closed) {
          options.close();
          upperBound.close();
          throw storeClosed();
        }
        this.iterator = db.db.newIterator(db.data, options);
        openStreams.add(this);
      }
      iterator.seek(Keys.chunk(meta.seq(), chunkNo));
    }

    private boolean positioned() {
      return chunkNo >= meta.chunkCount() || (meta.inFile() ? file != null : isAt(chunkNo));
    }

    private boolean isAt(int n) {
      return iterator.isValid() && Arrays.equals(iterator.key(), Keys.chunk(meta.seq(), n));
    }

    /** The next stored chunk (offset 0 streams only), or null at the end. */
    public StoredChunk nextStored() {
      if (meta.inFile()) {
        return StoredChunk.raw(nextRaw());
      }
      var value = nextValue();
      return value == null ? null : codec.toStored(value, meta.rawLength(chunkNo - 1));
    }

    /** The next raw bytes from the offset, or null at the end. */
    public byte[] nextRaw() {
      if (meta.inFile()) {
        synchronized (this) {
          if (!atNext()) {
            return null;
          }
          var raw = new byte[meta.rawLength(chunkNo) - skip];
          nextRaw(ByteBuffer.wrap(raw));
          return raw;
        }
      }
      var value = nextValue();
      if (value == null) {
        return null;
      }
      var raw = codec.decode(value, meta.rawLength(chunkNo - 1));
      if (skip > 0) {
        raw = Arrays.copyOfRange(raw, skip, raw.length);
        skip = 0;
      }
      return raw;
    }

    private synchronized byte[] nextValue() {
      if (!atNext()) {
        return null;
      }
      var value = iterator.value();
      iterator.next();
      chunkNo++;
      return value;
    }

    /**
     * The next raw bytes from the offset, copied once (from RocksDB or the file) into {@code
     * into}, which needs {@link #pieceRoom()} bytes: a stored chunk with its tag byte, which the
     * position then skips. A compressed chunk is decompressed into it instead.
     */
    public synchronized boolean nextRaw(ByteBuffer into) {
      if (!atNext()) {
        return false;
      }
      int start = into.position();
      int room = into.remaining();
      int rawLength = meta.rawLength(chunkNo);
      if (meta.inFile()) {
        int length = rawLength - skip;
        into.limit(start + length);
        BlobFiles.readFully(file, into, (long) chunkNo * meta.chunkSize() + skip,
            "reading seq " + meta.seq());
        into.limit(start + length).position(start);
        skip = 0;
        chunkNo++;
        return true;
      }
      int n = iterator.value(into);
      if (n > room) {
        throw new StorageException.Failure("chunk " + chunkNo + " of seq " + meta.seq() + " holds "
            + n + " bytes, more than its " + rawLength + " raw bytes and a tag", null);
      }
      if (!codec.isRaw(into.get(start))) {
        var value = new byte[n];
        into.get(start, value);
        var raw = codec.decode(value, rawLength);
        into.limit(start + room);
        into.put(raw).limit(into.position()).position(start);
      } else if (n - 1 != rawLength) {
        throw new StorageException.Failure("chunk " + chunkNo + " of seq " + meta.seq() + " holds "
            + (n - 1) + " raw bytes, expected " + rawLength, null);
      } else {
        into.position(start + 1);
      }
      into.position(into.position() + skip);
      skip = 0;
      iterator.next();
      chunkNo++;
      return true;
    }

    /** The room {@link #nextRaw(ByteBuffer)} needs: a whole stored chunk and its tag byte. */
    public int pieceRoom() {
      return (int) Math.min(meta.chunkSize(), meta.size()) + 1;
    }

    /**
     * For an entry in a file, before any read: the file, and where the requested bytes start in
     * it; else null. The stream still owns the channel.
     */
    public synchronized dev.buckcache.storage.BlobReader.FileSpan fileSpan() {
      if (file == null || streamClosed) {
        return null;
      }
      long at = (long) chunkNo * meta.chunkSize() + skip;
      return new dev.buckcache.storage.BlobReader.FileSpan(file, at, meta.size() - at);
    }

    /** Whether the iterator is at the next chunk; false at the end. */
    private boolean atNext() {
      if (streamClosed) {
        throw storeClosed();
      }
      if (chunkNo >= meta.chunkCount()) {
        return false;
      }
      if (!meta.inFile() && !isAt(chunkNo)) {
        throw new StorageException.Failure(
            "chunk " + chunkNo + " of seq " + meta.seq() + " is missing: the store is damaged", null);
      }
      return true;
    }

    /** Idempotent; waits for a read in progress on another thread, never frees under it. */
    @Override
    public synchronized void close() {
      if (streamClosed) {
        return;
      }
      streamClosed = true;
      if (file != null) {
        try {
          file.close();
        } catch (java.io.IOException e) {
          // read-only: nothing is lost
        }
      }
      if (iterator != null) {
        iterator.close();
        options.close();
        upperBound.close();
      }
      openStreams.remove(this);
    }
  }

  // ---------------------------------------------------------------------------------- writers

  /** One action-cache entry's index record, as {@link #scanActionCache} sees it. */
  @SuppressWarnings("ArrayRecordComponent") // writer is an opaque carrier, never compared
  public record AcRecord(StoreKey key, long seq, byte[] writer) {}

  /**
   * Visits every action-cache entry's key and writer (a consistent snapshot of the index; nothing
   * is read from the data, and recency does not move). For purging what one writer stored.
   */
  public void scanActionCache(java.util.function.Consumer<AcRecord> each) {
    checkOpen();
    byte[] first = {StoreKey.acTag()};
    byte[] end = {(byte) (StoreKey.acTag() + 1)};
    try (var bound = new Slice(end);
        var options = new org.rocksdb.ReadOptions().setIterateUpperBound(bound)
            .setFillCache(false);
        var it = db.db.newIterator(db.index, options)) {
      for (it.seek(first); it.isValid(); it.next()) {
        var meta = EntryMeta.decode(it.value());
        each.accept(new AcRecord(StoreKey.wrap(it.key()), meta.seq(), meta.writer()));
      }
      it.status();
    } catch (RocksDBException e) {
      throw DiskErrors.wrap(e, "scanning the action cache");
    }
  }

  /**
   * Removes the entry if its index record is still the one at {@code seq} (not rewritten since);
   * returns whether it did. Its bytes become a dead log record, reclaimed when eviction reaches it.
   */
  public boolean delete(StoreKey key, long seq) {
    checkWritable();
    var lock = lockFor(key);
    lock.lock();
    try {
      var meta = lookup(key);
      if (meta == null || meta.seq() != seq) {
        return false;
      }
      try (var batch = new WriteBatch()) {
        batch.delete(db.index, key.bytes());
        batch.merge(db.counters, RocksLayout.ENTRIES, Keys.counter(-1));
        db.db.write(db.writeOptions, batch);
      } catch (RocksDBException e) {
        throw DiskErrors.wrap(e, "deleting " + key);
      }
      entries.decrementAndGet();
      unindexed(key);
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** The side table kept in this store's {@code insight} column family (not in a read-only open). */
  public dev.buckcache.storage.SideTable sideTable() {
    if (db.insight == null) {
      throw new IllegalStateException("the store was opened read-only");
    }
    return new dev.buckcache.storage.SideTable() {
      @Override
      public void write(List<java.util.Map.Entry<byte[], byte[]>> puts, List<byte[]> deletes) {
        checkOpen();
        try (var batch = new WriteBatch()) {
          for (var d : deletes) {
            batch.delete(db.insight, d);
          }
          for (var e : puts) {
            batch.put(db.insight, e.getKey(), e.getValue());
          }
          db.db.write(db.writeOptions, batch);
        } catch (RocksDBException e) {
          throw DiskErrors.wrap(e, "writing the insight table");
        }
      }

      @Override
      public void scan(byte[] prefix, java.util.function.BiConsumer<byte[], byte[]> each) {
        checkOpen();
        try (var it = db.db.newIterator(db.insight)) {
          for (it.seek(prefix); it.isValid()
              && dev.buckcache.storage.SideTable.startsWith(it.key(), prefix); it.next()) {
            each.accept(it.key(), it.value());
          }
          it.status();
        } catch (RocksDBException e) {
          throw DiskErrors.wrap(e, "reading the insight table");
        }
      }
    };
  }

  // ---------------------------------------------------------------------------------- writes

  /** Starts writing an entry; the caller must {@link DiskWrite#commit} or {@link DiskWrite#abort}. */
  public DiskWrite begin(StoreKey key, byte kind, long expectedSize) {
    return begin(key, kind, expectedSize, null);
  }

  /**
   * Starts writing an entry whose index record keeps {@code writer} (an encoded {@link
   * dev.buckcache.storage.Provenance}; null for none).
   */
  public DiskWrite begin(StoreKey key, byte kind, long expectedSize, byte[] writer) {
    checkWritable();
    return new DiskWrite(this, key, kind, expectedSize, allocateSeq(), writer);
  }

  /** A new seq, registered as in flight in the same step (see {@link #inFlight}). */
  long allocateSeq() {
    synchronized (pendingSeqs) {
      long seq = nextSeq.getAndIncrement();
      pendingSeqs.add(seq);
      return seq;
    }
  }

  /**
   * The seqs of writes in flight and the next seq to be allocated, taken together: every seq
   * below {@code nextSeq} that is not in {@code inFlight} has finished, so its log record (if
   * any) is visible to an iterator created afterwards.
   */
  record InFlight(java.util.NavigableSet<Long> inFlight, long nextSeq) {}

  InFlight inFlight() {
    synchronized (pendingSeqs) {
      return new InFlight(new java.util.TreeSet<>(pendingSeqs), nextSeq.get());
    }
  }

  ReentrantLock lockFor(StoreKey key) {
    return stripes[stripeOf(key)];
  }

  private int stripeOf(StoreKey key) {
    int h = key.hashCode();
    return (h ^ (h >>> 16)) & (stripes.length - 1);
  }

  /**
   * Locks the stripes of all these keys, in stripe order, and returns them for {@link #unlock}.
   * Whoever holds more than one stripe takes them this way, so two such holders never deadlock.
   */
  List<ReentrantLock> lockAll(Iterable<StoreKey> keys) {
    var taken = new java.util.BitSet(stripes.length);
    keys.forEach(k -> taken.set(stripeOf(k)));
    var locks = new ArrayList<ReentrantLock>(taken.cardinality());
    for (int i = taken.nextSetBit(0); i >= 0; i = taken.nextSetBit(i + 1)) {
      stripes[i].lock();
      locks.add(stripes[i]);
    }
    return locks;
  }

  static void unlock(List<ReentrantLock> locks) {
    for (int i = locks.size() - 1; i >= 0; i--) {
      locks.get(i).unlock();
    }
  }

  /**
   * Stores small CAS blobs (each at most one chunk, none empty) in one atomic RocksDB batch: one
   * WAL append and one memtable insert for the lot, where {@link #begin} costs one of each per
   * blob. The caller has verified the content. A key already stored, or a repeat within the
   * batch, is left as it is. Returns each blob's ring offset, or -1 where it was already there.
   */
  public long[] writeAll(List<StoreKey> keys, List<byte[]> contents) {
    checkWritable();
    int n = keys.size();
    var values = new byte[n][];
    long encoded = 0;
    for (int i = 0; i < n; i++) {
      var raw = contents.get(i);
      if (raw.length == 0 || raw.length > settings.chunkSize()) {
        throw new IllegalArgumentException("a batch entry must be 1.." + settings.chunkSize()
            + " bytes, not " + raw.length);
      }
      values[i] = codec.encode(raw, raw.length);
      encoded += values[i].length;
    }
    reserve(encoded);
    var out = new long[n];
    java.util.Arrays.fill(out, -1);
    var locks = lockAll(keys);
    var seqs = new ArrayList<Long>(n);
    try {
      var existing = lookupAll(keys);
      var seen = new java.util.HashSet<StoreKey>();
      var fresh = new boolean[n];
      long stored = 0;
      for (int i = 0; i < n; i++) {
        fresh[i] = existing.get(i) == null && seen.add(keys.get(i));
        stored += fresh[i] ? values[i].length : 0;
      }
      if (seen.isEmpty()) {
        return out;
      }
      checkOpen();
      long offset = head.getAndAdd(stored);
      try (var batch = new WriteBatch()) {
        for (int i = 0; i < n; i++) {
          if (!fresh[i]) {
            continue;
          }
          long seq = allocateSeq();
          seqs.add(seq);
          batch.put(db.data, Keys.chunk(seq, 0), values[i]);
          recordEntry(batch, keys.get(i), new EntryMeta(seq, offset, contents.get(i).length,
              values[i].length, 1, settings.chunkSize(), KIND_CAS));
          out[i] = offset;
          offset += values[i].length;
        }
        batch.merge(db.counters, RocksLayout.HEAD, Keys.counter(stored));
        batch.merge(db.counters, RocksLayout.ENTRIES, Keys.counter(seen.size()));
        db.db.write(db.writeOptions, batch);
      } catch (RocksDBException e) {
        head.addAndGet(-stored);
        throw DiskErrors.wrap(e, "committing a batch of " + seen.size() + " blobs");
      }
      entries.addAndGet(seen.size());
      seen.forEach(this::indexed);
    } finally {
      unlock(locks);
      seqs.forEach(pendingSeqs::remove);
    }
    committed();
    return out;
  }

  /** Space for {@code bytes} more: waits for eviction if needed, or fails with StoreFull. */
  void reserve(long bytes) {
    evictor.awaitRoom(bytes);
  }

  void committed() {
    evictor.nudge();
  }

  // ---------------------------------------------------------------------------------- recency

  /**
   * Whether an entry at this ring offset should be copied forward: when fewer than half a budget
   * of new writes would reach it (its distance from the tail, plus the free budget that must fill
   * before eviction starts). In a store far from full nothing is copied.
   */
  public boolean isOld(long ringOffset) {
    if (evictor == null) {
      return false;
    }
    long t = tail.get();
    long budget = evictor.budget();
    long free = Math.max(0, budget - (head.get() - t));
    return (ringOffset - t) + free < budget * REFRESH_FRACTION;
  }

  void touch(StoreKey key, EntryMeta meta) {
    if (isOld(meta.offset())) {
      scheduleRefresh(key);
    }
  }

  /** Copies the entry to the head of the ring in the background, unless already under way. */
  public void scheduleRefresh(StoreKey key) {
    if (!refreshing.add(key)) {
      return;
    }
    try {
      refresher.execute(() -> refreshNow(key));
    } catch (RejectedExecutionException e) {
      refreshing.remove(key);
    }
  }

  private void refreshNow(StoreKey key) {
    try {
      var meta = lookup(key);
      if (meta != null && isOld(meta.offset())) {
        meta = copyForward(key, meta);
      }
      if (meta != null) {
        listener.placed(key, meta.offset());
      }
    } catch (RuntimeException e) {
      log.warn("refreshing {} failed: {}", key, e.getMessage());
    } finally {
      refreshing.remove(key);
    }
  }

  /** Returns the entry's record after the copy (or as it now is). */
  private EntryMeta copyForward(StoreKey key, EntryMeta meta) {
    var write = new DiskWrite(this, key, meta.kind(), meta.size(), allocateSeq(), meta.writer());
    try (var stream = new ChunkStream(meta, 0)) {
      if (meta.inFile()) {
        if (stream.file == null) {
          write.abort();
          return lookup(key);
        }
        write.copyFile(stream.file, meta.size());
      }
      for (int n = 0; n < meta.chunkCount() && !meta.inFile(); n++) {
        if (!stream.isAt(n)) {
          write.abort();
          return lookup(key);
        }
        write.copyStoredChunk(stream.iterator.value());
        stream.iterator.next();
      }
      if (write.commitRefresh(meta)) {
        refreshes.incrementAndGet();
      }
      return lookup(key);
    } catch (RuntimeException e) {
      write.abort();
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------- stats

  /** A snapshot of the accounting. */
  public DiskStats stats() {
    return new DiskStats(
        entries.get(),
        head.get() - tail.get(),
        pendingBytes.get(),
        evictor == null ? settings.maxSize() : evictor.budget(),
        settings.maxSize(),
        evictor == null ? 0 : evictor.evictedEntries(),
        evictor == null ? 0 : evictor.evictedBytes(),
        refreshes.get());
  }

  DiskEvictor evictor() {
    return evictor;
  }

  /** Runs one eviction round now if over budget; for tests and operators. */
  public void evictIfNeeded() {
    if (evictor != null) {
      evictor.evictIfNeeded();
    }
  }

  /** Waits until background copies queued so far are done; for tests. */
  void drainRefreshes() {
    if (refresher == null) {
      return;
    }
    var done = new java.util.concurrent.CountDownLatch(1);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    try {
      while (true) {
        try {
          refresher.execute(done::countDown);
          break;
        } catch (RejectedExecutionException full) { // its queue is full: wait for room
          if (System.nanoTime() > deadline) {
            return;
          }
          Thread.sleep(10);
        }
      }
      done.await(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      var t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  boolean isClosed() {
    return closed;
  }

  private void checkWritable() {
    if (db.readOnly) {
      throw new IllegalStateException("the store was opened read-only");
    }
  }

  /** Puts an entry's log and index records: what makes it visible once its data is written. */
  void recordEntry(WriteBatch batch, StoreKey key, EntryMeta meta) throws RocksDBException {
    batch.put(db.log, Keys.seq(meta.seq()), Keys.logRecord(meta.storedBytes(), key.bytes()));
    batch.put(db.index, key.bytes(), meta.encode());
  }

  /** Fails fast once closed: RocksDB must never be called after its handles are freed. */
  void checkOpen() {
    if (closed) {
      throw storeClosed();
    }
  }

  private static StorageException storeClosed() {
    return new StorageException.Failure("the store is closed (the server is stopping)", null);
  }

  @Override
  public void close() {
    close(java.time.Duration.ofSeconds(10));
  }

  /**
   * Stops in order: the evictor and the copy-forward thread first (waiting for them, within
   * {@code timeout}), then open streams (their iterators), then RocksDB. If a background thread
   * does not stop even after RocksDB's own background work is cancelled, RocksDB is left open
   * (its handles leak until exit) rather than freed under a thread still using it.
   */
  public void close(java.time.Duration timeout) {
    synchronized (openStreams) {
      if (closed) {
        return;
      }
      closed = true;
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    boolean stopped = stopBackground(deadline);
    if (!stopped) {
      db.db.cancelAllBackgroundWork(true);
      stopped = stopBackground(System.nanoTime() + TimeUnit.SECONDS.toNanos(2));
    }
    for (var stream : List.copyOf(openStreams)) {
      stream.close();
    }
    if (!stopped) {
      log.error("eviction or copy-forward did not stop; leaving RocksDB open rather than closing"
          + " it under them (it closes at exit)");
      return;
    }
    db.close();
    codec.close();
  }

  /** Stops the evictor and the refresher; true once both threads have ended. */
  private boolean stopBackground(long deadline) {
    if (evictor == null) {
      return true;
    }
    if (presenceBuilder != null) {
      try {
        presenceBuilder.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
      if (presenceBuilder.isAlive()) {
        return false;
      }
    }
    boolean evictorStopped = evictor.close(Math.max(0, deadline - System.nanoTime()));
    refresher.shutdownNow();
    try {
      return refresher.awaitTermination(Math.max(1, deadline - System.nanoTime()),
          TimeUnit.NANOSECONDS) && evictorStopped;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
