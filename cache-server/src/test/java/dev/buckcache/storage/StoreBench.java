package dev.buckcache.storage;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.disk.DiskSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * Store throughput and reopen time, run by {@code scripts/bench-store} (full) and by {@link
 * StoreBenchSmokeTest} (tiny, in CI). Prints one line per measurement; asserts nothing.
 *
 * <p>Arguments: {@code DIR [ENTRIES_FOR_REOPEN] [SMALL_OPS] [LARGE_OPS] [THREADS]}.
 */
public final class StoreBench {
  public static void main(String[] args) throws Exception {
    if (args.length == 4 && args[1].equals("fill")) { // scripts/bench-store fill DIR N
      fill(Path.of(args[2]), Integer.parseInt(args[3]));
      return;
    }
    var root = Path.of(args[0]);
    int reopenEntries = args.length > 1 ? Integer.parseInt(args[1]) : 1_000_000;
    int smallOps = args.length > 2 ? Integer.parseInt(args[2]) : 200_000;
    int largeOps = args.length > 3 ? Integer.parseInt(args[3]) : 1_000;
    int threads = args.length > 4 ? Integer.parseInt(args[4]) : 4;
    System.out.printf("machine: %d cores, max heap %d MB, %s%n",
        Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20,
        System.getProperty("java.vm.version"));
    throughput(root.resolve("small"), 4096, smallOps, threads);
    throughput(root.resolve("large"), 1 << 20, largeOps, threads);
    reopen(root.resolve("reopen"), reopenEntries);
    eviction(root.resolve("evict"), Math.max(1, largeOps / 100), threads);
  }

  /** Writes {@code rounds} x 3 times a 128 MB store's size in 64 KiB blobs: eviction all along. */
  private static void eviction(Path dir, int rounds, int threads) throws Exception {
    long maxSize = 128L << 20;
    int size = 64 * 1024;
    int ops = (int) (3L * rounds * maxSize / size);
    var random = new Random(7);
    var blob = StoreFixture.randomBytes(random, size);
    try (var store = open(dir, maxSize, 0)) {
      double seconds = run(ops, threads, i -> {
        var b = blob.clone();
        java.nio.ByteBuffer.wrap(b).putInt(0, i);
        store.put(Digest.of(DigestFunction.SHA256, b), b);
      });
      var disk = store.stats().disk();
      System.out.printf(Locale.ROOT, "evict   %d puts of 64KiB into a 128 MB store: %.0f puts/s while "
          + "evicting; %d entries (%d MB) evicted: %.0f entries/s, %.0f MB/s; %d MB used%n", ops,
          ops / seconds, disk.evictedEntries(), disk.evictedBytes() >> 20,
          disk.evictedEntries() / seconds, disk.evictedBytes() / seconds / 1e6, disk.usedBytes() >> 20);
    }
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private static TieredStore open(Path dir, long maxSize, long memory) {
    return TieredStore.open(new DiskSettings(dir, maxSize, 0.8, true, 1,
        DiskSettings.DEFAULT_CHUNK_SIZE), memory, Long.MAX_VALUE);
  }

  private static void throughput(Path dir, int size, int ops, int threads) throws Exception {
    var random = new Random(size);
    int distinct = Math.min(ops, size >= (1 << 20) ? 256 : 50_000);
    var blobs = new ArrayList<byte[]>();
    for (int i = 0; i < distinct; i++) {
      blobs.add(StoreFixture.compressibleBytes(random, size));
    }
    var digests = blobs.stream().map(b -> Digest.of(DigestFunction.SHA256, b)).toList();
    long maxSize = Math.max(1L << 30, 4L * ops * size);
    try (var store = open(dir, maxSize, 0)) {
      // Puts of distinct content: each op stores a new blob (the last 4 bytes vary).
      double puts = run(ops, threads, i -> {
        var b = blobs.get(i % distinct).clone();
        java.nio.ByteBuffer.wrap(b).putInt(size - 4, i);
        store.put(Digest.of(DigestFunction.SHA256, b), b);
      });
      for (int i = 0; i < distinct; i++) {
        store.put(digests.get(i), blobs.get(i));
      }
      double diskGets = run(ops, threads, i -> read(store, digests.get(i % distinct)));
      report(size, "put", puts, ops);
      report(size, "get (disk tier)", diskGets, ops);
    }
    if (size <= 64 * 1024) {
      try (var store = open(dir, maxSize, 512L << 20)) {
        for (var d : digests) {
          read(store, d);
        }
        double memGets = run(ops, threads, i -> read(store, digests.get(i % distinct)));
        report(size, "get (memory tier)", memGets, ops);
      }
    }
  }

  private static void read(TieredStore store, Digest d) {
    try (var r = store.open(d, 0).orElseThrow()) {
      while (r.nextRaw() != null) {
        // drain
      }
    }
  }

  private static double run(int ops, int threads, IntConsumer op) throws Exception {
    var pool = Executors.newFixedThreadPool(threads);
    long start = System.nanoTime();
    var futures = new ArrayList<Future<?>>();
    for (int t = 0; t < threads; t++) {
      int first = t;
      futures.add(pool.submit(() -> {
        for (int i = first; i < ops; i += threads) {
          op.accept(i);
        }
      }));
    }
    for (var f : futures) {
      f.get();
    }
    pool.shutdown();
    return (System.nanoTime() - start) / 1e9;
  }

  private static void report(int size, String what, double seconds, int ops) {
    System.out.printf(Locale.ROOT, "%-7s %-18s %10.0f ops/s %8.1f MB/s  (%d ops, %.2f s)%n",
        size >= (1 << 20) ? (size >> 20) + "MiB" : (size >> 10) + "KiB", what, ops / seconds,
        ops / seconds * size / 1e6, ops, seconds);
  }

  /**
   * {@code fill DIR N}: a store of N random 100-byte blobs for a server to open (scripts/bench's
   * restart part); prints the hash of the last one, for a GET that shows the server sees them.
   */
  private static void fill(Path dir, int entries) {
    var random = new Random(5);
    var b = new byte[100];
    Digest last = null;
    try (var store = open(dir, 8_000_000_000L, 0)) {
      for (int i = 0; i < entries; i++) {
        random.nextBytes(b);
        last = Digest.of(DigestFunction.SHA256, b);
        store.put(last, b);
      }
    }
    System.out.println(last == null ? "empty" : "last " + last.hash());
  }

  private static void reopen(Path dir, int entries) throws IOException {
    var random = new Random(3);
    var sample = new ArrayList<Digest>();
    long t0 = System.nanoTime();
    try (var store = open(dir, 64L << 30, 0)) {
      var b = new byte[100];
      for (int i = 0; i < entries; i++) {
        random.nextBytes(b);
        var d = Digest.of(DigestFunction.SHA256, b);
        store.put(d, b);
        if (i % Math.max(1, entries / 10_000) == 0) {
          sample.add(d);
        }
      }
    }
    double fill = (System.nanoTime() - t0) / 1e9;
    long du = StoreFixture.diskUsage(dir);
    var times = new ArrayList<Double>();
    long entriesAfter = 0;
    for (int round = 0; round < 3; round++) {
      long start = System.nanoTime();
      try (var store = open(dir, 64L << 30, 0)) {
        times.add((System.nanoTime() - start) / 1e6);
        entriesAfter = store.stats().disk().entries();
        if (round == 0) {
          findMissing(store, sample);
        }
      }
    }
    System.out.printf(Locale.ROOT,
        "reopen  %d entries (filled in %.1f s, %d MB on disk): %.0f / %.0f / %.0f ms, entries after reopen %d%n",
        entries, fill, du >> 20, times.get(0), times.get(1), times.get(2), entriesAfter);
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private static void findMissing(TieredStore store, List<Digest> sample) {
    var calls = new ArrayList<List<Digest>>();
    for (int i = 0; i + 100 <= sample.size(); i += 100) {
      calls.add(sample.subList(i, i + 100));
    }
    if (calls.isEmpty()) {
      return;
    }
    long start = System.nanoTime();
    int rounds = Math.max(1, 200_000 / (calls.size() * 100));
    long digests = 0;
    for (int r = 0; r < rounds; r++) {
      for (var call : calls) {
        if (!store.findMissing(call).isEmpty()) {
          throw new IllegalStateException("sampled digests went missing");
        }
        digests += call.size();
      }
    }
    double s = (System.nanoTime() - start) / 1e9;
    System.out.printf(Locale.ROOT, "findMissing at %d entries: %.0f digests/s (100 per call, 1 thread)%n",
        store.stats().disk().entries(), digests / s);
  }
}
