package dev.buckcache.storage;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts readers or writers that hold store resources (a RocksDB iterator, a pending disk
 * write), from open to their first close; a second close counts nothing. A count that stays
 * above zero once traffic stops is a leak (the gauges {@code buckcache.store.open.readers} and
 * {@code buckcache.store.open.writers}).
 */
final class OpenCounter {
  private final LongAdder open = new LongAdder();

  /** Counts one more; the returned handle uncounts it once. */
  Handle open() {
    open.increment();
    return new Handle();
  }

  long count() {
    return open.sum();
  }

  /** One counted reader or writer. */
  final class Handle {
    private final AtomicBoolean closed = new AtomicBoolean();

    void close() {
      if (closed.compareAndSet(false, true)) {
        open.decrement();
      }
    }
  }
}
