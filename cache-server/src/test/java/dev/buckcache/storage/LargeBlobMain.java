package dev.buckcache.storage;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.Hex;
import dev.buckcache.storage.disk.DiskSettings;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Child process of {@link LargeBlobTest}: streams one blob of the given size into a store and
 * back out, in a JVM with a small heap, and prints sizes, speeds and the peak heap.
 */
public final class LargeBlobMain {
  private static final int BLOCK = 1 << 20;

  public static void main(String[] args) {
    var dir = Path.of(args[0]);
    long size = Long.parseLong(args[1]);
    var digest = new Digest(DigestFunction.SHA256, hashOf(size), size);
    var settings = new DiskSettings(dir, size + (1L << 30), 0.8, true, 1,
        DiskSettings.DEFAULT_CHUNK_SIZE);
    try (var store = TieredStore.open(settings, 16L << 20, Long.MAX_VALUE)) {
      long t0 = System.nanoTime();
      try (var writer = store.newWriter(digest)) {
        var block = new byte[BLOCK];
        for (long pos = 0; pos < size; pos += BLOCK) {
          int n = fill(block, pos, size);
          writer.write(block, 0, n);
        }
        writer.commit();
      }
      long t1 = System.nanoTime();
      var hasher = DigestFunction.SHA256.newHasher();
      long read = 0;
      try (var reader = store.open(digest, 0).orElseThrow()) {
        for (var chunk = reader.nextRaw(); chunk != null; chunk = reader.nextRaw()) {
          hasher.update(chunk, 0, chunk.length);
          read += chunk.length;
        }
      }
      long t2 = System.nanoTime();
      if (read != size || !Hex.encode(hasher.finish()).equals(digest.hash())) {
        throw new IllegalStateException("read back " + read + " bytes that do not verify");
      }
      System.out.printf("size %d write_mb_s %.0f read_mb_s %.0f peak_heap %d max_heap %d stored %d%n",
          size, mbps(size, t1 - t0), mbps(size, t2 - t1), peakHeap(),
          Runtime.getRuntime().maxMemory(), store.stats().disk().usedBytes());
    }
  }

  /** Deterministic content that compresses about 2x: random bytes with every other one fixed. */
  static int fill(byte[] block, long pos, long size) {
    int n = (int) Math.min(BLOCK, size - pos);
    var random = new SplittableRandom(pos);
    for (int i = 0; i < n; i += 8) {
      long r = random.nextLong();
      for (int j = 0; j < 8 && i + j < n; j++) {
        block[i + j] = (j & 1) == 0 ? (byte) (r >>> (8 * j)) : (byte) 'x';
      }
    }
    return n;
  }

  private static String hashOf(long size) {
    var hasher = DigestFunction.SHA256.newHasher();
    var block = new byte[BLOCK];
    for (long pos = 0; pos < size; pos += BLOCK) {
      hasher.update(block, 0, fill(block, pos, size));
    }
    return Hex.encode(hasher.finish());
  }

  private static double mbps(long bytes, long nanos) {
    return bytes / 1e6 / (nanos / 1e9);
  }

  /** Sum of the heap pools' peaks: an upper bound on the heap ever in use at once. */
  private static long peakHeap() {
    return ManagementFactory.getMemoryPoolMXBeans().stream()
        .filter(p -> p.getType() == MemoryType.HEAP)
        .mapToLong(p -> p.getPeakUsage().getUsed())
        .sum();
  }
}
