package dev.buckcache.storage.disk;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.Env;
import org.rocksdb.FlushOptions;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.LRUCache;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileManager;
import org.rocksdb.UInt64AddOperator;
import org.rocksdb.WriteOptions;

/**
 * Opens the RocksDB database and owns every native handle. Column families:
 *
 * <ul>
 *   <li>{@code default}: counters (uint64add merges): ring head, ring tail, entries
 *   <li>{@code index}: entry key to {@link EntryMeta}; point lookups, bloom filter
 *   <li>{@code data}: {@code seq ++ chunkNo} to a chunk; keys ascend with write order, so flushed
 *       files hold disjoint seq ranges, move down the levels without rewrites, and whole files are
 *       dropped when eviction passes them ({@code DeleteFilesInRanges}). No RocksDB compression:
 *       chunks are zstd-compressed by us, so compressed reads need no recompression.
 *   <li>{@code log}: {@code seq} to stored bytes and entry key, in write order: what eviction walks
 *   <li>{@code pending}: seqs of uploads in progress, cleaned up after a crash
 *   <li>{@code insight}: a small side table for what the server keeps about its callers (recent
 *       builds, hourly hit rates; {@link DiskTier#sideTable}), outside eviction. Created on first
 *       open by this version; a read-only open leaves it out.
 * </ul>
 */
final class RocksLayout implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RocksLayout.class);
  static final byte[] HEAD = "head".getBytes(StandardCharsets.US_ASCII);
  static final byte[] TAIL = "tail".getBytes(StandardCharsets.US_ASCII);
  static final byte[] ENTRIES = "entries".getBytes(StandardCharsets.US_ASCII);

  final RocksDB db;
  final ColumnFamilyHandle counters;
  final ColumnFamilyHandle index;
  final ColumnFamilyHandle data;
  final ColumnFamilyHandle log;
  final ColumnFamilyHandle pending;
  /** The side table's column family; null in a read-only open. */
  final ColumnFamilyHandle insight;
  final WriteOptions writeOptions;
  final SstFileManager files;

  private final List<org.rocksdb.AbstractImmutableNativeReference> owned = new ArrayList<>();

  final SpacePlan plan;
  /** Opened with {@code RocksDB.openReadOnly}: nothing is written, not even a LOG file. */
  final boolean readOnly;

  private RocksLayout(DiskSettings settings, SpacePlan plan, boolean readOnly)
      throws RocksDBException {
    this.plan = plan;
    this.readOnly = readOnly;
    RocksDB.loadLibrary();
    files = own(new SstFileManager(Env.getDefault()));
    var cache = own(new LRUCache(SpacePlan.blockCache(settings.nativeMemory())));
    var descriptors = new ArrayList<>(
        List.of(
            new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, countersOptions()),
            new ColumnFamilyDescriptor(bytes("index"), indexOptions(cache)),
            new ColumnFamilyDescriptor(bytes("data"), dataOptions()),
            new ColumnFamilyDescriptor(bytes("log"), smallOptions(cache, plan.smallBuffer())),
            new ColumnFamilyDescriptor(bytes("pending"), smallOptions(cache, plan.smallBuffer()))));
    if (!readOnly) { // RocksDB opens a subset of column families read-only, not read-write
      descriptors.add(new ColumnFamilyDescriptor(bytes("insight"), smallOptions(cache, 1L << 20)));
    }
    var handles = new ArrayList<ColumnFamilyHandle>();
    db = readOnly
        ? RocksDB.openReadOnly(readOnlyOptions(), settings.dir().toString(), descriptors, handles)
        : RocksDB.open(dbOptions(), settings.dir().toString(), descriptors, handles);
    counters = handles.get(0);
    index = handles.get(1);
    data = handles.get(2);
    log = handles.get(3);
    pending = handles.get(4);
    insight = readOnly ? null : handles.get(5);
    writeOptions = own(new WriteOptions());
  }

  /** Opens the store with RocksDB's sizes planned for the disk it can actually have. */
  static RocksLayout open(DiskSettings settings) throws RocksDBException {
    try {
      Files.createDirectories(settings.dir());
    } catch (java.io.IOException e) {
      throw new RocksDBException("cannot create " + settings.dir() + ": " + e.getMessage());
    }
    var plan = SpacePlan.forCapacity(SpacePlan.capacity(settings.dir(), settings.maxSize()))
        .within(settings.nativeMemory());
    return new RocksLayout(settings, plan, false);
  }

  /**
   * Opens an existing store without changing a byte of it: the WAL is replayed into memory only,
   * and RocksDB's messages go to our log instead of a new LOG file. For {@code buckcache verify}.
   */
  static RocksLayout openReadOnly(DiskSettings settings) throws RocksDBException {
    return new RocksLayout(settings, SpacePlan.forCapacity(settings.maxSize()), true);
  }

  private DBOptions readOnlyOptions() {
    var options = own(new DBOptions()).setMaxLogFileSize(1L << 20);
    options.setLogger(own(new org.rocksdb.Logger(InfoLogLevel.WARN_LEVEL) {
      @Override
      protected void log(InfoLogLevel level, String message) {
        LOG.warn("rocksdb: {}", message);
      }
    }));
    return options;
  }

  private DBOptions dbOptions() {
    return own(new DBOptions())
        .setCreateIfMissing(true)
        .setCreateMissingColumnFamilies(true)
        .setMaxTotalWalSize(plan.walLimit())
        .setMaxManifestFileSize(4L << 20)
        .setKeepLogFileNum(2)
        .setMaxLogFileSize(1L << 20)
        .setInfoLogLevel(InfoLogLevel.WARN_LEVEL)
        .setStatsDumpPeriodSec(0)
        .setMaxBackgroundJobs(4)
        .setBytesPerSync(1L << 20)
        .setSstFileManager(files);
  }

  private ColumnFamilyOptions countersOptions() {
    return own(new ColumnFamilyOptions())
        .setMergeOperator(own(new UInt64AddOperator()))
        .setWriteBufferSize(plan.smallBuffer());
  }

  private ColumnFamilyOptions indexOptions(LRUCache cache) {
    // Point lookups only, mostly of keys that are there (the presence index answers for absent
    // ones): 4 KiB blocks with a hash index inside each, so a lookup in a block is one probe,
    // not a binary search; a bloom filter over each memtable, so a key that has been flushed
    // skips the memtable's skip list.
    var table =
        new BlockBasedTableConfig()
            .setBlockCache(cache)
            .setFilterPolicy(own(new BloomFilter(10)))
            .setBlockSize(4 * 1024)
            .setDataBlockIndexType(org.rocksdb.DataBlockIndexType.kDataBlockBinaryAndHash)
            .setDataBlockHashTableUtilRatio(0.75)
            .setCacheIndexAndFilterBlocks(false);
    return own(new ColumnFamilyOptions())
        .setTableFormatConfig(table)
        .setCompressionType(CompressionType.LZ4_COMPRESSION)
        .setMemtablePrefixBloomSizeRatio(0.1)
        .setMemtableWholeKeyFiltering(true)
        .setWriteBufferSize(plan.indexBuffer());
  }

  private ColumnFamilyOptions dataOptions() {
    long buffer = plan.dataBuffer();
    // Chunk reads go through the OS page cache; 1 MiB blocks would only churn a block cache.
    var table = new BlockBasedTableConfig().setNoBlockCache(true).setBlockSize(64 * 1024);
    return own(new ColumnFamilyOptions())
        .setTableFormatConfig(table)
        .setCompressionType(CompressionType.NO_COMPRESSION)
        .setWriteBufferSize(buffer)
        .setMaxWriteBufferNumber(SpacePlan.DATA_BUFFERS)
        .setMaxCompactionBytes(SpacePlan.COMPACTION_FILES * buffer)
        .setTargetFileSizeBase(buffer)
        .setMaxBytesForLevelBase(buffer * 8)
        .setLevelCompactionDynamicLevelBytes(false);
  }

  private ColumnFamilyOptions smallOptions(LRUCache cache, long writeBuffer) {
    var table = new BlockBasedTableConfig().setBlockCache(cache).setBlockSize(16 * 1024);
    return own(new ColumnFamilyOptions())
        .setTableFormatConfig(table)
        .setCompressionType(CompressionType.LZ4_COMPRESSION)
        .setWriteBufferSize(writeBuffer);
  }

  /** On-disk bytes of everything but blob data: index, log, pending and counter files. */
  long metadataBytes() {
    long total = 0;
    for (var cf : readOnly ? List.of(counters, index, log, pending)
        : List.of(counters, index, log, pending, insight)) {
      try {
        total += db.getLongProperty(cf, "rocksdb.total-sst-files-size");
      } catch (RocksDBException e) {
        // A property read failing is not worth failing a write for; the fixed reserve still holds.
      }
    }
    return total;
  }

  private <T extends org.rocksdb.AbstractImmutableNativeReference> T own(T object) {
    owned.add(object);
    return object;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  @Override
  public void close() {
    if (readOnly) {
      closeHandles();
      return;
    }
    try (var flush = new FlushOptions().setWaitForFlush(true)) {
      db.flush(flush, List.of(counters, index, log, pending, insight));
      db.syncWal();
    } catch (RocksDBException e) {
      // The WAL still holds everything; a failed flush only makes the next open replay it.
    }
    closeHandles();
  }

  private void closeHandles() {
    for (var h : List.of(counters, index, data, log, pending)) {
      h.close();
    }
    if (insight != null) {
      insight.close();
    }
    db.close();
    for (int i = owned.size() - 1; i >= 0; i--) {
      owned.get(i).close();
    }
  }
}
