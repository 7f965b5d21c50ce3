package dev.buckcache.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.disk.DiskAudit;
import dev.buckcache.storage.disk.DiskSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;

/** Opens real stores in a temp dir and checks their invariants when a test is done. */
final class StoreFixture implements AutoCloseable {
  static final int CHUNK = 64 * 1024;

  final Path dir;
  final long maxSize;
  TieredStore store;

  StoreFixture(Path dir, long maxSize) {
    this.dir = dir;
    this.maxSize = maxSize;
    this.store = open();
  }

  TieredStore open() {
    return TieredStore.open(settings(), 8L << 20, 1L << 40);
  }

  DiskSettings settings() {
    return new DiskSettings(dir, maxSize, 0.8, true, 1, CHUNK);
  }

  void reopen() {
    store.close();
    store = open();
  }

  DiskAudit.Report audit() {
    return DiskAudit.run(store.disk());
  }

  /** Checks the invariants, then closes. */
  @Override
  public void close() {
    var report = audit();
    store.close();
    assertThat(report.problems()).as("store invariants").isEmpty();
  }

  static byte[] randomBytes(Random random, int size) {
    var bytes = new byte[size];
    random.nextBytes(bytes);
    return bytes;
  }

  /** Half random, half repeated: compresses about 2x, like build outputs. */
  static byte[] compressibleBytes(Random random, int size) {
    var bytes = randomBytes(random, size);
    for (int i = 1; i < size; i += 2) {
      bytes[i] = 'x';
    }
    return bytes;
  }

  static Digest digest(byte[] bytes) {
    return Digest.of(DigestFunction.SHA256, bytes);
  }

  /** What {@code du} says: allocated bytes of everything under dir. */
  static long diskUsage(Path dir) {
    try {
      var process = new ProcessBuilder("du", "-s", "--block-size=1", dir.toString())
          .redirectErrorStream(true).start();
      var out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      process.waitFor();
      // du complains (and exits 1) about files RocksDB deleted mid-walk; its total still holds.
      var lines = out.split("\n", -1);
      return Long.parseLong(lines[lines.length - 1].split("\\s+", -1)[0]);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
