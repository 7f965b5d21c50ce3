package dev.buckcache.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StorageExecutorTest {
  @Test
  void submit_poolAndQueueFull_failsFastWithBusy() throws Exception {
    var release = new CountDownLatch(1);
    try (var executor = new StorageExecutor(1, 2, 1 << 20)) {
      var futures = new ArrayList<CompletableFuture<Integer>>();
      for (int i = 0; i < 4; i++) {
        futures.add(executor.submit(() -> {
          release.await();
          return 1;
        }));
      }
      assertThat(futures.get(3)).isCompletedExceptionally();
      try {
        futures.get(3).get();
      } catch (ExecutionException e) {
        assertThat(e.getCause()).isInstanceOf(StorageException.Busy.class);
      }
      release.countDown();
      assertThat(futures.get(0).get(5, TimeUnit.SECONDS)).isEqualTo(1);
      assertThat(futures.get(2).get(5, TimeUnit.SECONDS)).isEqualTo(1);
    }
  }

  @Test
  void submit_waitedLongerThanTheLimitInTheQueue_refusedWithBusy_neverRun() throws Exception {
    var release = new CountDownLatch(1);
    try (var executor = new StorageExecutor(1, 10, 1 << 20, java.time.Duration.ofMillis(200))) {
      var blocker = executor.submit(() -> release.await(10, TimeUnit.SECONDS));
      var ran = new java.util.concurrent.atomic.AtomicBoolean();
      var stale = executor.submit(() -> {
        ran.set(true);
        return 1;
      });
      Thread.sleep(400);
      release.countDown();
      assertThat(blocker.get(5, TimeUnit.SECONDS)).isTrue();
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> stale.get(5, TimeUnit.SECONDS))
          .hasCauseInstanceOf(StorageException.Busy.class).hasMessageContaining("waited");
      assertThat(ran).as("a refused operation never runs").isFalse();
      assertThat(executor.shed()).isEqualTo(1);
      assertThat(executor.submit(() -> 2).get(5, TimeUnit.SECONDS)).as("a fresh one runs").isEqualTo(2);
    }
  }

  @Test
  void submitNext_runsAheadOfQueuedNewWork_andIsNeverShed() throws Exception {
    var release = new CountDownLatch(1);
    var order = new java.util.concurrent.ConcurrentLinkedQueue<String>();
    try (var executor = new StorageExecutor(1, 10, 1 << 20, java.time.Duration.ofMillis(200))) {
      var blocker = executor.submit(() -> release.await(10, TimeUnit.SECONDS));
      var fresh = new ArrayList<CompletableFuture<Integer>>();
      for (int i = 0; i < 3; i++) {
        int n = i;
        fresh.add(executor.submit(() -> {
          order.add("new " + n);
          return n;
        }));
      }
      var step = executor.submitNext(() -> {
        order.add("step");
        return 7;
      });
      Thread.sleep(400); // everything queued has now waited past the 200 ms limit
      release.countDown();
      assertThat(blocker.get(5, TimeUnit.SECONDS)).isTrue();
      assertThat(step.get(5, TimeUnit.SECONDS)).as("a later step is never shed").isEqualTo(7);
      for (var f : fresh) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS))
            .hasCauseInstanceOf(StorageException.Busy.class);
      }
      assertThat(order).containsExactly("step");
      assertThat(executor.shed()).isEqualTo(3);
    }
    // Later steps do not count against the queue: with it full, one still runs.
    try (var executor = new StorageExecutor(1, 10, 1 << 20)) {
      var gate = new CountDownLatch(1);
      var busy = new ArrayList<CompletableFuture<Boolean>>();
      for (int i = 0; i < 11; i++) {
        busy.add(executor.submit(() -> gate.await(10, TimeUnit.SECONDS)));
      }
      assertThat(executor.submit(() -> true)).as("pool and queue full").isCompletedExceptionally();
      var late = executor.submitNext(() -> "ran");
      gate.countDown();
      assertThat(late.get(5, TimeUnit.SECONDS)).isEqualTo("ran");
      for (var f : busy) {
        assertThat(f.get(5, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(executor.submit(() -> 2).get(5, TimeUnit.SECONDS)).as("the count came back").isEqualTo(2);
    }
  }

  @Test
  void inflightBytes_capped_butOneLargeRequestAlwaysFits() {
    try (var executor = new StorageExecutor(1, 1, 1000)) {
      assertThat(executor.tryAcquireBytes(5000)).as("alone, even over the cap").isTrue();
      assertThat(executor.tryAcquireBytes(1)).isFalse();
      executor.releaseBytes(5000);
      assertThat(executor.tryAcquireBytes(600)).isTrue();
      assertThat(executor.tryAcquireBytes(600)).isFalse();
      assertThat(executor.inflightBytes()).isEqualTo(600);
    }
  }

  @Test
  void tryAcquireBytes_claimThatWouldOverflow_refused() {
    try (var executor = new StorageExecutor(1, 1, 1000)) {
      assertThat(executor.tryAcquireBytes(1)).isTrue();
      assertThat(executor.tryAcquireBytes(Long.MAX_VALUE)).isFalse();
      assertThat(executor.inflightBytes()).isEqualTo(1);
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> executor.tryAcquireBytes(-5))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void release_poolSaturated_stillCloses() throws Exception {
    var block = new CountDownLatch(1);
    try (var executor = new StorageExecutor(1, 1, 1 << 20)) {
      var unused1 = executor.submit(() -> block.await(5, TimeUnit.SECONDS));
      var unused2 = executor.submit(() -> block.await(5, TimeUnit.SECONDS));
      assertThat(executor.submit(() -> 1)).as("the pool is full").isCompletedExceptionally();
      var closed = new CountDownLatch(1);
      executor.release(closed::countDown);
      assertThat(closed.await(5, TimeUnit.SECONDS)).isTrue();
      block.countDown();
    }
  }

  @Test
  void close_releasesStillQueued_runOnCaller() {
    var closed = new java.util.concurrent.atomic.AtomicInteger();
    var executor = new StorageExecutor(1, 1, 1 << 20);
    executor.close();
    executor.release(closed::incrementAndGet);
    assertThat(closed).hasValue(1);
  }
}
