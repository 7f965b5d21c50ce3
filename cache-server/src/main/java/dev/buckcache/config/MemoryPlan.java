package dev.buckcache.config;

/*
 * Design notes
 *
 * One number, server.memory_limit, bounds the whole process: what the JVM may take for its heap
 * and for direct buffers, and what RocksDB takes natively. The JVM's limits are fixed when it
 * starts, so the launcher (./buckcache) and the image's entry point set them from the same
 * formula (scripts/memory-flags, which MemoryPlanTest holds to this class), and the server sizes
 * what it controls itself from it:
 *
 *   heap   = 5/8 of the limit          (-Xmx; the memory tier, requests in flight, the rest)
 *   direct = 1/8, within 32..512 MiB    (-XX:MaxDirectMemorySize; Netty's socket buffers)
 *   native = the rest: RocksDB's block cache and memtables, less 96 MiB for the JVM's own
 *            (metaspace, code cache, thread stacks, GC tables)
 *
 * From the heap, as without a limit: the memory tier defaults to min(512MB, heap / 4) and the
 * in-flight cap to heap / 4. From the native share: a block cache of a quarter (8..64 MiB) and
 * data memtables of what is left over DATA_BUFFERS + 1. All sizes are whole MiB, rounded down,
 * so a shell can compute the same numbers.
 */

/** How a process memory limit splits between heap, direct buffers and RocksDB. */
public record MemoryPlan(long limit, long heap, long direct, long rocksdb) {
  private static final long MIB = 1L << 20;
  /** The JVM's own native memory besides heap and direct buffers, reserved off the rest. */
  static final long JVM_NATIVE = 96 * MIB;
  public static final long MIN_LIMIT = 512 * MIB;

  /** The plan for a limit of {@code limit} bytes, at least {@link #MIN_LIMIT}. */
  public static MemoryPlan of(long limit) {
    if (limit < MIN_LIMIT) {
      throw new IllegalArgumentException("must be at least 512MiB");
    }
    long mib = limit / MIB;
    long heap = mib * 5 / 8;
    long direct = Math.max(32, Math.min(512, mib / 8));
    long rocksdb = Math.max(16, mib - heap - direct - JVM_NATIVE / MIB);
    return new MemoryPlan(limit, heap * MIB, direct * MIB, rocksdb * MIB);
  }

  /** The JVM options that make the JVM keep to this plan, as scripts/memory-flags prints them. */
  public String jvmOptions() {
    return "-Xmx" + heap / MIB + "m -XX:MaxDirectMemorySize=" + direct / MIB + "m";
  }
}
