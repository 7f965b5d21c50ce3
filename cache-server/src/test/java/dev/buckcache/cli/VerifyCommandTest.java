package dev.buckcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskSettings;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VerifyCommandTest {
  @TempDir Path dir;

  private static String[] run(String... args) {
    var out = new ByteArrayOutputStream();
    var oldOut = System.out;
    System.setOut(new PrintStream(out, true));
    try {
      return new String[] {Integer.toString(Main.run(args)), out.toString(StandardCharsets.UTF_8)};
    } finally {
      System.setOut(oldOut);
    }
  }

  /** Every file's name and bytes; verify must leave them all as they were. */
  private static java.util.Map<String, String> snapshot(Path store) throws Exception {
    var out = new java.util.TreeMap<String, String>();
    try (var files = Files.walk(store)) { // blobs/ too: the files of large blobs
      for (var f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        out.put(store.relativize(f).toString(),
            DigestFunction.SHA256.hash(Files.readAllBytes(f)) + " " + Files.size(f));
      }
    }
    return out;
  }

  @Test
  void verify_storeWithUnflushedWal_changesNoFile_andWarnsNothing() throws Exception {
    var store = dir.resolve("store");
    var random = new Random(4);
    // Closing flushes metadata but leaves the data memtable in the WAL: an open replays it.
    try (var s = TieredStore.open(new DiskSettings(store, 64L << 20, 0.8, true, 1,
        DiskSettings.DEFAULT_CHUNK_SIZE), 0, 1L << 30)) {
      for (int i = 0; i < 10; i++) {
        var blob = new byte[100_000];
        random.nextBytes(blob);
        s.put(Digest.of(DigestFunction.SHA256, blob), blob);
      }
    }
    var before = snapshot(store);
    assertThat(before.keySet()).as("a WAL the data lives in").anyMatch(n -> n.endsWith(".log"));
    var result = run("verify", "--dir", store.toString());
    assertThat(result[0]).as(result[1]).isEqualTo("0");
    assertThat(result[1]).contains("10 entries").doesNotContain("max_size");
    assertThat(snapshot(store)).isEqualTo(before);
  }

  @Test
  void healthyStore_exitsZero_damagedDataFile_exitsOneNamingTheEntries() throws Exception {
    var store = dir.resolve("store");
    var random = new Random(3);
    try (var s = TieredStore.open(new DiskSettings(store, 64L << 20, 0.8, false, 1,
        DiskSettings.DEFAULT_CHUNK_SIZE), 0, 1L << 30)) {
      for (int i = 0; i < 20; i++) {
        var blob = new byte[200_000];
        random.nextBytes(blob);
        s.put(Digest.of(DigestFunction.SHA256, blob), blob);
      }
    }
    var healthy = run("verify", "--dir", store.toString());
    assertThat(healthy[0]).as(healthy[1]).isEqualTo("0");
    assertThat(healthy[1]).contains("20 entries").contains("healthy");

    // Flip bytes in the middle of the biggest data file: RocksDB's block checksums catch it.
    Path sst;
    try (var files = Files.list(store)) {
      sst = files.filter(f -> f.toString().endsWith(".sst"))
          .max(Comparator.comparingLong(f -> f.toFile().length())).orElseThrow();
    }
    try (var file = new RandomAccessFile(sst.toFile(), "rw")) {
      var junk = new byte[4096];
      random.nextBytes(junk);
      file.seek(file.length() / 2);
      file.write(junk);
    }
    var damaged = run("verify", "--dir", store.toString());
    assertThat(damaged[0]).as(damaged[1]).isEqualTo("1");
    assertThat(damaged[1]).contains("problem(s):").contains("cas:sha256:");

    assertThat(run("verify", "--dir", dir.resolve("nothing").toString())[0]).isEqualTo("2");
  }

  @Test
  void damagedOrTruncatedBlobFile_exitsOneNamingTheEntry() throws Exception {
    var store = dir.resolve("store");
    var blob = new byte[5 << 20]; // noise from 4 MiB up: a file of its own
    new Random(5).nextBytes(blob);
    var digest = Digest.of(DigestFunction.SHA256, blob);
    try (var s = TieredStore.open(new DiskSettings(store, 64L << 20, 0.8, true, 1,
        DiskSettings.DEFAULT_CHUNK_SIZE), 0, 1L << 30)) {
      s.put(digest, blob);
    }
    Path file;
    try (var files = Files.list(store.resolve("blobs"))) {
      file = files.findFirst().orElseThrow();
    }
    assertThat(run("verify", "--dir", store.toString())[0]).isEqualTo("0");
    try (var f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(3 << 20);
      f.write(new byte[] {1, 2, 3});
    }
    var flipped = run("verify", "--dir", store.toString());
    assertThat(flipped[0]).as(flipped[1]).isEqualTo("1");
    assertThat(flipped[1]).contains(digest.hash()).contains("does not match its hash");
    try (var f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(1 << 20);
    }
    var truncated = run("verify", "--dir", store.toString());
    assertThat(truncated[0]).as(truncated[1]).isEqualTo("1");
    assertThat(truncated[1]).contains(digest.hash()).contains("its file holds 1048576 bytes");
  }
}
