package dev.buckcache.storage;

import static java.util.Objects.requireNonNull;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.disk.DiskListener;
import dev.buckcache.storage.disk.DiskSettings;
import dev.buckcache.storage.disk.DiskTier;
import dev.buckcache.storage.memory.MemoryTier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.LongAdder;

/*
 * Design notes
 *
 * Write-through: every entry is written to disk; small ones are also kept in memory. Memory is a
 * subset of disk (eviction on disk invalidates memory), so a presence check can trust either tier.
 * Memory hits keep the disk copy's recency moving via its remembered ring offset, without a disk
 * read. Disk reads of small entries load through Caffeine, so concurrent misses for one key read
 * the disk once.
 */

/** The store both front ends use: CAS blobs and action-cache entries over memory and disk tiers. */
public final class TieredStore implements CacheStore, AutoCloseable {
  private final DiskTier disk;
  private final MemoryTier memory;
  private final long maxBlobSize;
  private final TierCounters counters = new TierCounters();
  private final OpenCounter openReaders = new OpenCounter();
  private final OpenCounter openWriters = new OpenCounter();
  private final int chunkSize;

  private TieredStore(DiskSettings disk, long memorySize, long maxBlobSize) {
    long maxMemoryEntry = Math.min(disk.chunkSize(), Math.max(0, memorySize / 64));
    this.memory = new MemoryTier(memorySize, maxMemoryEntry, ForkJoinPool.commonPool());
    this.maxBlobSize = maxBlobSize;
    this.chunkSize = disk.chunkSize();
    this.disk = DiskTier.open(disk, new DiskListener() {
      @Override
      public void evicted(List<StoreKey> keys) {
        memory.invalidateAll(keys);
      }

      @Override
      public void placed(StoreKey key, long ringOffset) {
        memory.moved(key, ringOffset);
      }
    });
  }

  /**
   * Opens the store.
   *
   * @param memorySize bytes for the memory tier (0 disables it)
   * @param maxBlobSize largest blob or action-cache value accepted
   */
  public static TieredStore open(DiskSettings disk, long memorySize, long maxBlobSize) {
    requireNonNull(disk, "disk");
    return new TieredStore(disk, memorySize, maxBlobSize);
  }

  // ---------------------------------------------------------------------------------- CAS

  @Override
  public boolean contains(Digest digest) {
    if (digest.isEmpty()) {
      return true;
    }
    var key = StoreKey.cas(digest);
    var hit = memoryHit(key);
    if (hit != null) {
      return hit.length() == digest.size();
    }
    var entry = disk.find(key);
    return entry != null && entry.size() == digest.size();
  }

  @Override
  public List<Digest> findMissing(Collection<Digest> digests) {
    var toCheck = new ArrayList<Digest>();
    var keys = new ArrayList<StoreKey>();
    for (var d : digests) {
      var key = StoreKey.cas(d);
      var hit = d.isEmpty() ? null : memoryHit(key);
      if (!d.isEmpty() && (hit == null || hit.length() != d.size())) {
        toCheck.add(d);
        keys.add(key);
      }
    }
    var missing = new ArrayList<Digest>();
    if (!keys.isEmpty()) {
      var sizes = disk.sizesOf(keys);
      for (int i = 0; i < sizes.length; i++) {
        if (sizes[i] != toCheck.get(i).size()) {
          missing.add(toCheck.get(i));
        }
      }
    }
    return missing;
  }

  @Override
  public Optional<BlobReader> open(Digest digest, long offset) {
    if (offset < 0 || offset > digest.size()) {
      throw new IllegalArgumentException(
          "read offset " + offset + " is outside the blob (size " + digest.size() + ")");
    }
    if (digest.isEmpty()) {
      return Optional.of(new ArrayReader(new byte[0], 0));
    }
    return openKey(StoreKey.cas(digest), digest.size(), offset);
  }

  @Override
  public Optional<BlobReader> openHash(DigestFunction function, String hash) {
    var probe = new Digest(function, hash, 0);
    if (probe.isEmpty()) {
      return Optional.of(new ArrayReader(new byte[0], 0));
    }
    return openKey(StoreKey.cas(probe), -1, 0);
  }

  /** The blob's bytes, copied out, if the memory tier holds them; never touches the disk. */
  @Override
  public <T> T peek(DigestFunction function, String hash,
      java.util.function.Function<java.nio.ByteBuffer, T> copy) {
    var key = StoreKey.cas(new Digest(function, hash, 0));
    var hit = memory.acquire(key);
    if (hit == null) {
      return null;
    }
    try {
      keepYoung(key, hit);
      counters.memoryHit(key);
      return copy.apply(hit.view());
    } finally {
      hit.release();
    }
  }

  /** expectedSize -1: any size. */
  private Optional<BlobReader> openKey(StoreKey key, long expectedSize, long offset) {
    var located = new DiskTier.Entry[1];
    var cached = memoryOrLoad(key, located);
    if (cached != null) {
      if (expectedSize >= 0 && cached.length() != expectedSize) {
        cached.release();
        return Optional.empty();
      }
      return Optional.of(new MemoryReader(cached, offset));
    }
    var entry = located[0];
    if (entry == null || (expectedSize >= 0 && entry.size() != expectedSize)) {
      counters.miss(key);
      return Optional.empty();
    }
    var stream = disk.stream(entry, offset);
    if (stream == null) {
      // Copied forward and its old copy evicted between lookup and open: look once more.
      entry = disk.find(key);
      stream = entry == null ? null : disk.stream(entry, offset);
    }
    if (stream == null) {
      counters.miss(key);
      return Optional.empty();
    }
    counters.diskHit(key);
    return Optional.of(new DiskReader(entry.size(), stream, openReaders));
  }

  @Override
  public BlobWriter newWriter(Digest digest) {
    admit(digest);
    if (digest.isEmpty() || contains(digest)) {
      return new VerifyingWriter(digest, VerifyingWriter.DISCARD);
    }
    var key = StoreKey.cas(digest);
    var write = disk.begin(key, DiskTier.KIND_CAS, digest.size());
    return new VerifyingWriter(digest, new DiskSink(key, DiskTier.KIND_CAS, write));
  }

  /** Refuses a blob over the size limit or larger than the whole store. */
  private void admit(Digest digest) {
    checkSize(digest.size(), "blob " + digest);
    long budget = disk.stats().budgetBytes();
    if (digest.size() > budget) {
      throw new StorageException.StoreFull("blob " + digest + " is larger than the whole store ("
          + budget + " bytes for data within max_size)", null);
    }
  }

  /**
   * A batch's small raw blobs are verified one by one, then the ones not yet stored go to disk
   * together in one RocksDB write ({@link DiskTier#writeAll}) and into the memory tier. Blobs
   * sent as zstd, larger than one chunk, or whose length is not the digest's take the one-by-one
   * path. Each outcome is what that path would give the blob alone.
   */
  @Override
  public List<RuntimeException> putAll(List<BatchBlob> blobs) {
    var out = new RuntimeException[blobs.size()];
    var verified = new ArrayList<Verified>();
    for (int i = 0; i < blobs.size(); i++) {
      var blob = blobs.get(i);
      var digest = blob.digest();
      try {
        if (blob.zstd() || digest.isEmpty() || digest.size() > chunkSize
            || blob.data().remaining() != digest.size()) {
          BlobStore.write(newWriter(digest), blob);
          continue;
        }
        admit(digest);
        var bytes = new byte[(int) digest.size()];
        blob.data().duplicate().get(bytes);
        VerifyingWriter.verify(digest, bytes);
        var key = StoreKey.cas(digest);
        var hit = memoryHit(key);
        if (hit == null || hit.length() != bytes.length) {
          verified.add(new Verified(i, key, bytes));
        }
      } catch (RuntimeException e) {
        out[i] = e;
      }
    }
    if (!verified.isEmpty()) {
      try {
        storeAbsent(verified);
      } catch (RuntimeException e) {
        verified.forEach(v -> out[v.position()] = e);
      }
    }
    return java.util.Arrays.asList(out);
  }

  /** A batch blob whose content matches its digest and that the memory tier does not hold. */
  @SuppressWarnings("ArrayRecordComponent") // the verified content, never compared
  private record Verified(int position, StoreKey key, byte[] content) {}

  /** Writes those of the blobs the disk does not hold either (checked for all at once). */
  private void storeAbsent(List<Verified> verified) {
    var sizes = disk.sizesOf(verified.stream().map(Verified::key).toList());
    var absent = new ArrayList<Verified>();
    for (int j = 0; j < sizes.length; j++) {
      if (sizes[j] != verified.get(j).content().length) {
        absent.add(verified.get(j));
      }
    }
    if (absent.isEmpty()) {
      return;
    }
    var offsets = disk.writeAll(absent.stream().map(Verified::key).toList(),
        absent.stream().map(Verified::content).toList());
    for (int j = 0; j < offsets.length; j++) {
      if (offsets[j] >= 0) {
        var v = absent.get(j);
        var content = v.content();
        memory.put(v.key(),
            MemoryTier.Value.copyOf(DiskTier.KIND_CAS, content, 0, content.length, offsets[j]));
      }
    }
  }

  // ---------------------------------------------------------------------------------- AC

  @Override
  public Optional<AcEntry> get(AcKey acKey) {
    var key = StoreKey.ac(acKey);
    var located = new DiskTier.Entry[1];
    var cached = memoryOrLoad(key, located);
    if (cached != null) {
      try {
        return Optional.of(new AcEntry(kindOf(cached.kind()), cached.copy(0)));
      } finally {
        cached.release();
      }
    }
    if (located[0] == null) {
      counters.miss(key);
      return Optional.empty();
    }
    var stream = disk.stream(located[0], 0);
    if (stream == null) {
      counters.miss(key);
      return Optional.empty();
    }
    counters.diskHit(key);
    try (var reader = new DiskReader(located[0].size(), stream, openReaders)) {
      return Optional.of(new AcEntry(kindOf(located[0].kind()), readAll(reader)));
    }
  }

  @Override
  public void put(AcKey acKey, AcEntry entry) {
    checkSize(entry.value().length, "action-cache value");
    var key = StoreKey.ac(acKey);
    byte kind = entry.kind() == AcEntry.Kind.RAW ? DiskTier.KIND_AC_RAW : DiskTier.KIND_AC_RESULT;
    var writer = entry.writer() == null ? null : entry.writer().encode();
    var sink = new DiskSink(key, kind, disk.begin(key, kind, entry.value().length, writer));
    try {
      sink.write(entry.value(), 0, entry.value().length);
      sink.commit();
    } catch (RuntimeException e) {
      sink.abort();
      throw e;
    }
  }

  @Override
  public List<AcKey> purgeActionCache(java.util.function.Predicate<Provenance> match,
      boolean dryRun) {
    var purged = new ArrayList<AcKey>();
    disk.scanActionCache(record -> {
      var writer = Provenance.decode(record.writer());
      if (writer == null || !match.test(writer)) {
        return;
      }
      if (dryRun || disk.delete(record.key(), record.seq())) {
        memory.invalidateAll(List.of(record.key()));
        purged.add(record.key().toAcKey());
      }
    });
    return purged;
  }

  /** The durable side table in this store's database (see {@link SideTable}). */
  public SideTable sideTable() {
    return disk.sideTable();
  }

  // ---------------------------------------------------------------------------------- shared

  private MemoryTier.Value memoryHit(StoreKey key) {
    var v = memory.get(key);
    if (v != null) {
      keepYoung(key, v);
    }
    return v;
  }

  /**
   * The memory value, retained for the caller (loading small disk entries into memory), else the
   * disk entry in located.
   */
  private MemoryTier.Value memoryOrLoad(StoreKey key, DiskTier.Entry[] located) {
    var hit = memory.acquire(key);
    if (hit != null) {
      keepYoung(key, hit);
      counters.memoryHit(key);
      return hit;
    }
    var loaded = memory.acquire(key, k -> {
      var entry = disk.find(k);
      located[0] = entry;
      if (entry == null || !memory.admits(entry.size()) || entry.chunkCount() > 1) {
        return null;
      }
      var bytes = disk.readWhole(entry);
      return bytes == null ? null
          : MemoryTier.Value.copyOf(entry.kind(), bytes, 0, bytes.length, entry.ringOffset());
    });
    if (loaded != null && located[0] != null) {
      counters.diskHit(key);
    }
    if (loaded != null && located[0] == null) {
      counters.memoryHit(key);
    }
    return loaded;
  }

  private void keepYoung(StoreKey key, MemoryTier.Value v) {
    if (disk.isOld(v.ringOffset())) {
      disk.scheduleRefresh(key);
    }
  }

  private void checkSize(long size, String what) {
    if (size > maxBlobSize) {
      throw new StorageException.TooLarge(
          what + " is " + size + " bytes, over the " + maxBlobSize + "-byte limit (max_blob_size)");
    }
  }

  private static AcEntry.Kind kindOf(byte kind) {
    return kind == DiskTier.KIND_AC_RAW ? AcEntry.Kind.RAW : AcEntry.Kind.ACTION_RESULT;
  }

  private static byte[] readAll(BlobReader reader) {
    var out = new java.io.ByteArrayOutputStream((int) Math.min(reader.size(), 1 << 20));
    for (var chunk = reader.nextRaw(); chunk != null; chunk = reader.nextRaw()) {
      out.write(chunk, 0, chunk.length);
    }
    return out.toByteArray();
  }

  /** Accounting of both tiers. */
  public StoreStats stats() {
    return new StoreStats(disk.stats(), memory.entries(), memory.weightedBytes(),
        reads(true, Tier.MEMORY), reads(true, Tier.DISK), reads(true, Tier.MISS),
        openReaders(), openWriters());
  }

  /** Disk readers not yet closed (each holds a RocksDB iterator). */
  public long openReaders() {
    return openReaders.count();
  }

  /** Disk writes neither committed nor aborted (each holds a pending seq and its bytes). */
  public long openWriters() {
    return openWriters.count();
  }

  /** One chunk: what a disk write buffers before it reaches RocksDB. */
  @Override
  public int writeBufferBytes() {
    return chunkSize;
  }

  /** The disk tier, for operations and tests. */
  public DiskTier disk() {
    return disk;
  }

  @Override
  public void close() {
    disk.close();
  }

  /** Closes within {@code timeout}: background threads stopped, open readers closed, then disk. */
  public void close(java.time.Duration timeout) {
    disk.close(timeout);
  }

  /** Sends verified bytes to a disk write and, on commit, the whole value to memory if small. */
  private final class DiskSink implements VerifyingWriter.Sink {
    private final StoreKey key;
    private final byte kind;
    private final dev.buckcache.storage.disk.DiskWrite write;
    /** The whole value, kept for the memory tier while it stays small enough; else null. */
    private byte[] copy;
    private int copied;
    private long total;
    private final OpenCounter.Handle counted;

    DiskSink(StoreKey key, byte kind, dev.buckcache.storage.disk.DiskWrite write) {
      this.key = key;
      this.kind = kind;
      this.write = write;
      this.counted = openWriters.open();
    }

    @Override
    public void write(byte[] bytes, int offset, int length) {
      write.write(bytes, offset, length);
      keepCopy(bytes, offset, length);
      total += length;
    }

    @Override
    public boolean write(java.nio.ByteBuffer bytes) {
      int length = bytes.remaining();
      if (total == 0 || copy != null || !write.write(bytes)) {
        return false;
      }
      total += length;
      return true;
    }

    /**
     * Copies from the first byte on, or not at all: whether to keep a copy is decided at the
     * first write and only ever revoked. (It once restarted on a later, smaller piece after a
     * first piece over the limit, and cached the blob's tail as the whole value.)
     */
    private void keepCopy(byte[] bytes, int offset, int length) {
      if (total == 0 && copy == null && memory.admits(length)) {
        copy = new byte[length];
      }
      if (copy == null) {
        return;
      }
      if (!memory.admits((long) copied + length)) {
        copy = null;
        return;
      }
      if (copy.length < copied + length) {
        copy = java.util.Arrays.copyOf(copy, Math.max(copied + length, copy.length * 2));
      }
      System.arraycopy(bytes, offset, copy, copied, length);
      copied += length;
    }

    @Override
    public void commit() {
      write.commit();
      counted.close();
      if (copy != null && copied == total) {
        var entry = disk.find(key);
        memory.put(key,
            MemoryTier.Value.copyOf(kind, copy, 0, copied, entry == null ? 0 : entry.ringOffset()));
      }
    }

    @Override
    public void abort() {
      try {
        write.abort();
      } finally {
        counted.close();
      }
    }

    @Override
    public byte[] whole() {
      return copy != null && copied == total ? java.util.Arrays.copyOf(copy, copied) : null;
    }
  }

  /** Where reads were served from: the memory tier, the disk tier, or nowhere (a miss). */
  public enum Tier {
    MEMORY,
    DISK,
    MISS
  }

  /** Reads of {@code cas} (or action-cache) entries served by {@code tier} since start. */
  @SuppressWarnings("EnumOrdinal") // the counters are an array indexed by tier, in enum order
  public long reads(boolean cas, Tier tier) {
    return counters.counts[cas ? 0 : 1][tier.ordinal()].sum();
  }

  /** Read outcomes per kind (CAS, AC) and tier; the current kind is set per call. */
  private static final class TierCounters {
    final LongAdder[][] counts = new LongAdder[2][3];

    TierCounters() {
      for (var row : counts) {
        for (int i = 0; i < row.length; i++) {
          row[i] = new LongAdder();
        }
      }
    }

    void memoryHit(StoreKey key) {
      counts[key.isCas() ? 0 : 1][0].increment();
    }

    void diskHit(StoreKey key) {
      counts[key.isCas() ? 0 : 1][1].increment();
    }

    void miss(StoreKey key) {
      counts[key.isCas() ? 0 : 1][2].increment();
    }
  }
}
