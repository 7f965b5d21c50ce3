package dev.buckcache.cli;

import dev.buckcache.storage.disk.DiskAudit;
import dev.buckcache.storage.disk.DiskSettings;
import dev.buckcache.storage.disk.DiskTier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code buckcache verify}: opens a stopped server's store read-only (it changes no byte of it;
 * uploads a crash interrupted are left for the server's next open to reclaim), then reads every
 * entry: its chunks are all there, its content matches its hash, and the byte and entry counters
 * match what is stored.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
    description = {"Checks a store offline: every blob complete and matching its digest, size "
        + "accounting exact. Exit 0 healthy, 1 damaged. The server must be stopped.",
        "Reads every byte: expect about the time of reading the data directory."})
final class VerifyCommand implements Callable<Integer> {
  @Option(names = "--dir", required = true, paramLabel = "DIR", description = "the store (storage.dir)")
  Path dir;

  @Option(names = "--max-problems", defaultValue = "20", paramLabel = "N",
      description = "print at most this many problems (default ${DEFAULT-VALUE})")
  int maxProblems;

  @Override
  public Integer call() {
    if (!Files.exists(dir.resolve("CURRENT"))) {
      System.err.println("buckcache: " + dir + " holds no store");
      return Main.EXIT_CONFIG;
    }
    if (inUse(dir)) {
      System.err.println("buckcache: " + dir + " is in use by a running server (its RocksDB LOCK is"
          + " held); stop the server, then verify");
      return Main.EXIT_CONFIG;
    }
    // Read-only: the check changes nothing (no WAL replay into files, no eviction, no copies).
    var settings = new DiskSettings(dir, Long.MAX_VALUE / 4, 0.8, true, 1, DiskSettings.DEFAULT_CHUNK_SIZE);
    long started = System.nanoTime();
    DiskAudit.Report report;
    try (var tier = DiskTier.openReadOnly(settings)) {
      report = DiskAudit.run(tier);
    }
    long ms = (System.nanoTime() - started) / 1_000_000;
    System.out.printf("%s: %d entries, %d bytes stored, counters say %d bytes; checked in %d ms%n",
        dir, report.indexEntries(), report.logBytes(), report.countedBytes(), ms);
    if (report.healthy()) {
      System.out.println("healthy: every entry complete and matching its digest, accounting exact");
      return 0;
    }
    System.out.println(report.problems().size() + " problem(s):");
    report.problems().stream().limit(maxProblems).forEach(p -> System.out.println("  " + p));
    return Main.EXIT_FAILURE;
  }

  /**
   * Whether another process holds the store's LOCK (RocksDB takes an fcntl lock on it, which is
   * what FileChannel.tryLock asks for). Opening the file writes nothing to it.
   */
  private static boolean inUse(Path dir) {
    var lock = dir.resolve("LOCK");
    if (!Files.exists(lock)) {
      return false;
    }
    try (var channel = java.nio.channels.FileChannel.open(lock,
        java.nio.file.StandardOpenOption.WRITE)) {
      var held = channel.tryLock();
      if (held == null) {
        return true;
      }
      held.release();
      return false;
    } catch (java.nio.channels.OverlappingFileLockException e) {
      return false; // this process holds it (a test); RocksDB's own check applies then
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
