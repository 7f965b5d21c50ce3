package dev.buckcache.storage;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where front ends run storage work, never on their event loops. The pool and its queue are
 * bounded: when both are full a call fails at once with {@link StorageException.Busy} (HTTP 503,
 * gRPC RESOURCE_EXHAUSTED) instead of queueing without limit.
 *
 * <p>The queue bounds how many operations wait, and {@link #MAX_QUEUE_WAIT} how long: an
 * operation that waited longer (a starved CPU, a slow disk) fails with Busy when its turn comes
 * instead of running, so its client hears 503 / RESOURCE_EXHAUSTED and retries, rather than
 * waiting past its deadline while the server does work no one will read.
 *
 * <p>Admission is decided once per operation. A streamed read or upload is many steps (a chunk
 * each); its first step queues as above ({@link #submit}), and every later one
 * ({@link #submitNext}) runs ahead of all new operations and is never shed. Otherwise each step
 * would wait its turn behind new arrivals, and a stream of eight chunks on a saturated server
 * could spend eight queue waits, far past its client's deadline, with all the work done for it
 * wasted. Finishing what was admitted is also what frees its reader, writer and claim soonest.
 * Later steps need no bound of their own: a stream has at most one queued at a time, and open
 * streams are bounded by the byte budget.
 *
 * <p>Two more duties, both shared by HTTP and gRPC:
 * <ul>
 *   <li>The in-flight byte budget ({@code storage.max_inflight_bytes}): every request body or
 *       message a front end holds in memory is claimed with {@link #tryAcquireBytes} before it
 *       is read and released when it is stored or dropped. A claim that does not fit fails at
 *       once, so the caller can answer 503 / RESOURCE_EXHAUSTED instead of running out of heap.
 *   <li>Releasing readers and writers ({@link #release}). A close must never depend on the pool
 *       having room: it runs on its own thread, whose queue is unbounded because every entry is
 *       an open reader or writer that already exists.
 * </ul>
 */
public final class StorageExecutor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StorageExecutor.class);
  private final ThreadPoolExecutor pool;
  private final long maxInflightBytes;
  private final AtomicLong inflightBytes = new AtomicLong();
  private final ThreadPoolExecutor closer;
  /** The longest an operation may wait in the queue before it is refused instead of run. */
  public static final java.time.Duration MAX_QUEUE_WAIT = java.time.Duration.ofSeconds(5);
  private final long maxQueueWaitNanos;
  /** New operations submitted and not yet finished, at most threads + queue length. */
  private final AtomicInteger admitted = new AtomicInteger();
  private final int maxAdmitted;
  private final AtomicLong sequence = new AtomicLong();
  private final java.util.concurrent.atomic.LongAdder shed = new java.util.concurrent.atomic.LongAdder();

  public StorageExecutor(int threads, int queueLength, long maxInflightBytes) {
    this(threads, queueLength, maxInflightBytes, MAX_QUEUE_WAIT);
  }

  /** With a given queue-wait limit (tests). */
  public StorageExecutor(int threads, int queueLength, long maxInflightBytes,
      java.time.Duration maxQueueWait) {
    this.maxQueueWaitNanos = maxQueueWait.toNanos();
    var counter = new AtomicInteger();
    this.maxAdmitted = threads + queueLength;
    // Unbounded in itself: admitted bounds the new operations in it, and each stream has at
    // most one later step queued. Steps order ahead of new operations, each lane FIFO.
    this.pool = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
        new PriorityBlockingQueue<>(), r -> {
          var t = new Thread(r, "buckcache-storage-" + counter.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    this.pool.allowCoreThreadTimeOut(true);
    this.maxInflightBytes = maxInflightBytes;
    this.closer = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
        r -> {
          var t = new Thread(r, "buckcache-storage-closer");
          t.setDaemon(true);
          return t;
        });
  }

  /**
   * Closes {@code resource} off the caller's thread, never refused (until {@link #close}, after
   * which it closes on the caller's thread). A failing close is logged, not thrown.
   */
  public void release(AutoCloseable resource) {
    try {
      closer.execute(() -> closeQuietly(resource));
    } catch (RejectedExecutionException e) {
      closeQuietly(resource);
    }
  }

  private static void closeQuietly(AutoCloseable resource) {
    try {
      resource.close();
    } catch (Exception e) {
      log.warn("releasing {} failed: {}", resource, e.toString());
    }
  }

  /**
   * Runs a new operation's {@code work} on the pool; the future fails with Busy when the pool
   * and queue are full, or when it waited longer than the limit for its turn.
   */
  public <T> CompletableFuture<T> submit(Callable<T> work) {
    var future = new CompletableFuture<T>();
    if (admitted.incrementAndGet() > maxAdmitted) {
      admitted.decrementAndGet();
      future.completeExceptionally(new StorageException.Busy(
          "storage is saturated (" + pool.getQueue().size() + " operations queued); retry"));
      return future;
    }
    long queued = System.nanoTime();
    execute(new Task(false, () -> {
      try {
        long waited = System.nanoTime() - queued;
        if (waited > maxQueueWaitNanos) {
          shed.increment();
          future.completeExceptionally(new StorageException.Busy("storage is saturated: this "
              + "operation waited " + TimeUnit.NANOSECONDS.toMillis(waited) + " ms for its turn "
              + "(the limit is " + TimeUnit.NANOSECONDS.toMillis(maxQueueWaitNanos) + " ms); retry"));
          return;
        }
        complete(future, work);
      } finally {
        admitted.decrementAndGet();
      }
    }), future);
    return future;
  }

  /**
   * Runs the next step of an operation already under way (a stream's next chunk, its commit):
   * ahead of every new operation, never shed for waiting. The caller must have no other step
   * of the same operation queued.
   */
  public <T> CompletableFuture<T> submitNext(Callable<T> work) {
    var future = new CompletableFuture<T>();
    execute(new Task(true, () -> complete(future, work)), future);
    return future;
  }

  private static <T> void complete(CompletableFuture<T> future, Callable<T> work) {
    try {
      future.complete(work.call());
    } catch (Throwable t) {
      future.completeExceptionally(t);
    }
  }

  private void execute(Task task, CompletableFuture<?> future) {
    try {
      pool.execute(task);
    } catch (RejectedExecutionException e) { // shut down
      if (!task.next) {
        admitted.decrementAndGet();
      }
      future.completeExceptionally(new StorageException.Busy("the server is stopping; retry"));
    }
  }

  /** A queued piece of work: later steps first, then first come, first served. */
  private final class Task implements Runnable, Comparable<Task> {
    final boolean next;
    final long order = sequence.getAndIncrement();
    final Runnable body;

    Task(boolean next, Runnable body) {
      this.next = next;
      this.body = body;
    }

    @Override
    public void run() {
      body.run();
    }

    @Override
    public int compareTo(Task other) {
      return next != other.next ? (next ? -1 : 1) : Long.compare(order, other.order);
    }
  }

  /**
   * Claims room for {@code bytes} request bytes about to be held in memory; false, claiming
   * nothing, when they do not fit under the cap. A claim larger than the cap succeeds only while
   * nothing else is held, so one request up to the protocol's own limit can always go through.
   * Every successful claim must be returned once with {@link #releaseBytes}.
   *
   * @throws IllegalArgumentException if {@code bytes} is negative
   */
  public boolean tryAcquireBytes(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("cannot claim " + bytes + " bytes");
    }
    while (true) {
      long now = inflightBytes.get();
      if (now > 0 && bytes > maxInflightBytes - now) { // (no now + bytes: it could overflow)
        return false;
      }
      if (inflightBytes.compareAndSet(now, now + bytes)) {
        return true;
      }
    }
  }

  /**
   * The failure both front ends answer when a claim of {@code bytes} did not fit (503 with
   * Retry-After, RESOURCE_EXHAUSTED): one message, naming the setting.
   */
  public StorageException.Busy overBudget(long bytes) {
    return new StorageException.Busy("the server holds " + inflightBytes() + " of its "
        + maxInflightBytes + " in-flight bytes (storage.max_inflight_bytes); " + bytes
        + " more do not fit now, retry");
  }

  /** Returns bytes claimed with {@link #tryAcquireBytes}. */
  public void releaseBytes(long bytes) {
    inflightBytes.addAndGet(-bytes);
  }

  /** Bytes claimed now (the gauge {@code buckcache.inflight}). */
  public long inflightBytes() {
    return inflightBytes.get();
  }

  /** The cap, {@code storage.max_inflight_bytes}. */
  public long maxInflightBytes() {
    return maxInflightBytes;
  }

  /** Operations refused because they waited too long in the queue. */
  public long shed() {
    return shed.sum();
  }

  public int queued() {
    return pool.getQueue().size();
  }

  /**
   * Stops taking work and waits up to {@code timeout} for what was accepted, then for the
   * releases that work queued.
   */
  public boolean shutdown(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    pool.shutdown();
    boolean done = pool.awaitTermination(timeout, unit);
    closer.shutdown();
    return closer.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)
        && done;
  }

  /** Cancels queued work; releases still queued run here, so none is lost. */
  @Override
  public void close() {
    pool.shutdownNow();
    closer.shutdown();
    for (var close : closer.shutdownNow()) {
      close.run();
    }
  }
}
