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
 *   heap   = 1/4 of the limit             (-Xmx; requests in flight, indexes, the rest)
 *   direct = Netty's 1/8 (within 32..512 MiB) plus the memory tier's room, 3/8
 *                                          (-XX:MaxDirectMemorySize; the memory tier is off heap)
 *   native = the rest: RocksDB's block cache and memtables, less 96 MiB for the JVM's own
 *            (metaspace, code cache, thread stacks, GC tables), plus what the memory tier
 *            leaves of its room
 *
 * The memory tier defaults to min(512MB, its room) and the in-flight cap to heap / 4. From the
 * native share: a block cache of a quarter (8..64 MiB) and data memtables of what is left over
 * DATA_BUFFERS + 1. All sizes are whole MiB, rounded down, so a shell can compute the same
 * numbers.
 *
 * The heap was 5/8 when the memory tier lived on it: a tier of T wanted a heap of about 2T
 * before anything else, and the collector fills whatever heap it is given with garbage before
 * it returns any, so the process sat at its heap maximum plus the rest.
 */

/**
 * How a process memory limit splits between heap, direct buffers (Netty's and the memory
 * tier's) and RocksDB.
 */
public record MemoryPlan(long limit, long heap, long direct, long netty, long rocksdb) {
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
    long heap = mib / 4;
    long netty = Math.max(32, Math.min(512, mib / 8));
    long direct = netty + mib * 3 / 8;
    long rocksdb = Math.max(16, mib - heap - direct - JVM_NATIVE / MIB);
    return new MemoryPlan(limit, heap * MIB, direct * MIB, netty * MIB, rocksdb * MIB);
  }

  /** The most the memory tier may hold: direct memory beyond Netty's share. */
  public long memoryTierRoom() {
    return direct - netty;
  }

  /** RocksDB's share when the memory tier takes {@code memoryTier} of its room. */
  public long rocksdbWith(long memoryTier) {
    return rocksdb + Math.max(0, memoryTierRoom() - memoryTier);
  }

  /** The JVM options that make the JVM keep to this plan, as scripts/memory-flags prints them. */
  public String jvmOptions() {
    return "-Xmx" + heap / MIB + "m -XX:MaxDirectMemorySize=" + direct / MIB + "m";
  }

  /** This JVM's -XX:MaxDirectMemorySize, or its max heap when that is not set (the default). */
  public static long jvmMaxDirect() {
    try {
      var bean = java.lang.management.ManagementFactory.getPlatformMXBean(
          com.sun.management.HotSpotDiagnosticMXBean.class);
      long set = Long.parseLong(bean.getVMOption("MaxDirectMemorySize").getValue());
      return set > 0 ? set : Runtime.getRuntime().maxMemory();
    } catch (RuntimeException | LinkageError e) {
      return Runtime.getRuntime().maxMemory();
    }
  }
}
