package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.digest;
import static dev.buckcache.storage.StoreFixture.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.buckcache.storage.disk.DiskSettings;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Closing the store with readers still open closes them first: no native crash, a clear error. */
class StoreCloseTest {
  @TempDir Path dir;

  @Test
  void close_withAReaderOpen_closesTheReaderFirst_laterReadsFailCleanly() {
    var store = TieredStore.open(new DiskSettings(dir, 64L << 20, 0.8, true, 1,
        StoreFixture.CHUNK), 0, 1L << 30);
    var content = randomBytes(new Random(1), 10 * StoreFixture.CHUNK);
    store.put(digest(content), content);
    var reader = store.open(digest(content), 0).orElseThrow();
    assertThat(reader.nextRaw()).hasSize(StoreFixture.CHUNK);
    store.close();
    assertThatThrownBy(reader::nextRaw).isInstanceOf(StorageException.class)
        .hasMessageContaining("closed");
    reader.close();
    assertThat(store.disk().stats().entries()).isEqualTo(1);
  }
}
