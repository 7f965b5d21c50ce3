package dev.buckcache.storage.disk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.TieredStore;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.FlushOptions;

/** The pending and log column families keep few files however often they flush (soak finding). */
class MetadataFilesTest {
  @TempDir Path dir;

  static long files(RocksLayout db, ColumnFamilyHandle cf) throws Exception {
    long n = 0;
    for (int level = 0; level < 7; level++) {
      n += Long.parseLong(db.db.getProperty(cf, "rocksdb.num-files-at-level" + level));
    }
    return n;
  }

  @Test
  void manyFlushes_tidyMergesPendingAndLogFiles_storeStillWhole() throws Exception {
    var random = new Random(1);
    try (var store = TieredStore.open(new DiskSettings(dir, 256L << 20, 0.8, true, 1,
        DiskSettings.DEFAULT_CHUNK_SIZE), 0, 1L << 30);
        var flush = new FlushOptions().setWaitForFlush(true)) {
      var tier = store.disk();
      var db = tier.db;
      var blobs = new java.util.ArrayList<byte[]>();
      for (int i = 0; i < 40; i++) {
        var blob = new byte[4096];
        random.nextBytes(blob);
        store.put(Digest.of(DigestFunction.SHA256, blob), blob);
        blobs.add(blob);
        db.db.flush(flush, List.of(db.counters, db.index, db.log, db.pending));
      }
      assertThat(files(db, db.pending) + files(db, db.log)).as("files before tidying")
          .isGreaterThan(2 * DiskEvictor.TIDY_FILES);
      tier.evictor().tidy();
      assertThat(files(db, db.pending)).isLessThanOrEqualTo(1);
      assertThat(files(db, db.log)).isLessThanOrEqualTo(1);
      for (var blob : blobs) {
        assertThat(store.getBytes(Digest.of(DigestFunction.SHA256, blob))).contains(blob);
      }
      assertThat(DiskAudit.run(tier).problems()).isEmpty();
    }
  }
}
