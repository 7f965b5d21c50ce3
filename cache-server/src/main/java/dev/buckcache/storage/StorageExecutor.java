package dev.buckcache.storage;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where front ends run storage work, never on their event loops. The pool and its queue are
 * bounded: when both are full a call fails at once with {@link StorageException.Busy} (HTTP 503,
 * gRPC RESOURCE_EXHAUSTED) instead of queueing without limit. A separate cap on bytes held by
 * uploads in flight protects the heap.
 */
public final class StorageExecutor implements AutoCloseable {
  private final ThreadPoolExecutor pool;
  private final long maxInflightBytes;
  private final AtomicLong inflightBytes = new AtomicLong();

  public StorageExecutor(int threads, int queueLength, long maxInflightBytes) {
    var counter = new AtomicInteger();
    this.pool = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(queueLength), r -> {
          var t = new Thread(r, "buckcache-storage-" + counter.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    this.pool.allowCoreThreadTimeOut(true);
    this.maxInflightBytes = maxInflightBytes;
  }

  /** Runs {@code work} on the pool; the future fails with Busy when the pool is saturated. */
  public <T> CompletableFuture<T> submit(Callable<T> work) {
    var future = new CompletableFuture<T>();
    try {
      pool.execute(() -> {
        try {
          future.complete(work.call());
        } catch (Throwable t) {
          future.completeExceptionally(t);
        }
      });
    } catch (RejectedExecutionException e) {
      future.completeExceptionally(new StorageException.Busy(
          "storage is saturated (" + pool.getQueue().size() + " operations queued); retry"));
    }
    return future;
  }

  /** Claims room for {@code bytes} buffered upload bytes; false when the cap is reached. */
  public boolean tryAcquireBytes(long bytes) {
    while (true) {
      long now = inflightBytes.get();
      if (now + bytes > maxInflightBytes && now > 0) {
        return false;
      }
      if (inflightBytes.compareAndSet(now, now + bytes)) {
        return true;
      }
    }
  }

  public void releaseBytes(long bytes) {
    inflightBytes.addAndGet(-bytes);
  }

  public long inflightBytes() {
    return inflightBytes.get();
  }

  public int queued() {
    return pool.getQueue().size();
  }

  /** Stops taking work and waits up to {@code timeout} for what was accepted. */
  public boolean shutdown(long timeout, TimeUnit unit) throws InterruptedException {
    pool.shutdown();
    return pool.awaitTermination(timeout, unit);
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
