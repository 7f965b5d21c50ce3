package dev.buckcache.grpc;

import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.StorageExecutor;
import io.grpc.Context;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Where the gRPC services run their storage work: on the shared, bounded {@link StorageExecutor},
 * never on the transport's event loop, and inside the shared in-flight byte budget.
 *
 * <p>Design notes. grpc-java runs the services directly on its Netty event loops (the server's
 * executor is a direct one), where they check access and parse requests; anything that touches
 * the store goes through here. A call first claims the bytes it will hold in memory (the request
 * message it keeps, or the response it will build), then queues its work. Either refusal is
 * RESOURCE_EXHAUSTED at once, with a description that says what was full: the client backs off
 * and retries (Bazel and Buck2 both retry it) and the server's heap and queue stay bounded. The
 * claim is released when the work is done. The call's Context (its caller) travels with the
 * work. A cancel handler is always set, so answering a call the client already cancelled is a
 * no-op rather than an exception.
 */
final class Offload {
  private final StorageExecutor executor;

  Offload(StorageExecutor executor) {
    this.executor = executor;
  }

  /**
   * Answers a unary call with what {@code work} computes on the storage executor, holding
   * {@code bytes} of the budget while it runs.
   */
  <R> void unary(StreamObserver<R> observer, long bytes, Callable<R> work) {
    var call = (ServerCallStreamObserver<R>) observer;
    call.setOnCancelHandler(() -> {});
    var unused = run(bytes, work).whenComplete((result, error) -> {
      if (error != null) {
        call.onError(GrpcErrors.exception(error));
      } else {
        call.onNext(result);
        call.onCompleted();
      }
    });
  }

  /**
   * Runs {@code work} on the storage executor within a claim of {@code bytes}; the future fails
   * with {@link StorageException.Busy} when either the budget or the executor is full.
   */
  <T> CompletableFuture<T> run(long bytes, Callable<T> work) {
    if (!claim(bytes)) {
      return CompletableFuture.failedFuture(overBudget(bytes));
    }
    return executor.submit(Context.current().wrap(work)).whenComplete((v, e) -> release(bytes));
  }

  /**
   * Runs the next step of a call already under way (a stream's next chunk) on the storage
   * executor, ahead of new work and never shed (see {@link StorageExecutor#submitNext}).
   */
  <T> CompletableFuture<T> next(Callable<T> work) {
    return executor.submitNext(Context.current().wrap(work));
  }

  /** Claims budget held beyond one piece of work (e.g. an upload's buffer); false if full. */
  boolean claim(long bytes) {
    return bytes <= 0 || executor.tryAcquireBytes(bytes);
  }

  void release(long bytes) {
    if (bytes > 0) {
      executor.releaseBytes(bytes);
    }
  }

  /** Closes a reader or writer without depending on executor capacity. */
  void release(AutoCloseable resource) {
    executor.release(resource);
  }

  StorageException.Busy overBudget(long bytes) {
    return executor.overBudget(bytes);
  }
}
