package dev.buckcache.storage.memory;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * malloc, free and copies to and from byte arrays, through the JDK's {@code sun.misc.Unsafe}
 * (module jdk.unsupported, open on every JDK 17), looked up once. Absent (a JVM without it),
 * {@link #AVAILABLE} is false and the memory tier keeps its entries on the heap instead.
 */
final class NativeBytes {
  static final boolean AVAILABLE;
  private static final MethodHandle ALLOCATE;
  private static final MethodHandle FREE;
  private static final MethodHandle COPY;
  private static final long BYTE_ARRAY_BASE;

  static {
    MethodHandle allocate = null;
    MethodHandle free = null;
    MethodHandle copy = null;
    long base = 0;
    try {
      var type = Class.forName("sun.misc.Unsafe");
      var field = type.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      Object unsafe = field.get(null);
      var lookup = MethodHandles.lookup();
      allocate = lookup.findVirtual(type, "allocateMemory", MethodType.methodType(long.class, long.class))
          .bindTo(unsafe);
      free = lookup.findVirtual(type, "freeMemory", MethodType.methodType(void.class, long.class))
          .bindTo(unsafe);
      copy = lookup.findVirtual(type, "copyMemory", MethodType.methodType(void.class, Object.class,
          long.class, Object.class, long.class, long.class)).bindTo(unsafe);
      base = (int) lookup.findVirtual(type, "arrayBaseOffset",
          MethodType.methodType(int.class, Class.class)).bindTo(unsafe).invoke(byte[].class);
    } catch (Throwable e) { // no Unsafe here: the tier stays on the heap
      allocate = null;
    }
    AVAILABLE = allocate != null;
    ALLOCATE = allocate;
    FREE = free;
    COPY = copy;
    BYTE_ARRAY_BASE = base;
  }

  private NativeBytes() {}

  /** Native memory holding a copy of {@code bytes[0, length)}; free it with {@link #free}. */
  static long copyOf(byte[] bytes, int length) {
    try {
      long address = (long) ALLOCATE.invokeExact((long) length);
      COPY.invokeExact((Object) bytes, BYTE_ARRAY_BASE, (Object) null, address, (long) length);
      return address;
    } catch (Throwable e) {
      throw failed(e, "native copy failed");
    }
  }

  /** Copies {@code length} bytes at {@code address} into a new array. */
  static byte[] read(long address, int length) {
    var bytes = new byte[length];
    try {
      COPY.invokeExact((Object) null, address, (Object) bytes, BYTE_ARRAY_BASE, (long) length);
    } catch (Throwable e) {
      throw failed(e, "native read failed");
    }
    return bytes;
  }

  static void free(long address) {
    try {
      FREE.invokeExact(address);
    } catch (Throwable e) {
      throw failed(e, "native free failed");
    }
  }

  private static RuntimeException failed(Throwable e, String what) {
    if (e instanceof Error error) {
      throw error;
    }
    return new IllegalStateException(what, e);
  }
}
