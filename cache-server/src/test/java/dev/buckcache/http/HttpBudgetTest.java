package dev.buckcache.http;

import static dev.buckcache.http.HttpHarness.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.StorageExecutor;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Uploads against the in-flight byte budget and a saturated storage executor: what an
 * announcement claims, what a slow body holds, and that every reader, writer and claim is
 * released however the exchange ends (the harness checks that after every test).
 */
class HttpBudgetTest {
  @TempDir Path dir;
  private HttpHarness h;
  private final Random random = new Random(17);
  private final CountDownLatch unblock = new CountDownLatch(1);

  @AfterEach
  void close() {
    unblock.countDown();
    if (h != null) {
      h.close();
    }
  }

  private void open(int threads, int queue, long budget) {
    h = new HttpHarness(dir, 8L << 20, new StorageExecutor(threads, queue, budget));
  }

  private static String putHead(String path, long length) {
    return "PUT " + path + " HTTP/1.1\nHost: x\nContent-Length: " + length + "\n\n";
  }

  private static String acPath(int i) {
    return "/ac/" + DigestFunction.SHA256.hash(("action " + i).getBytes(StandardCharsets.UTF_8));
  }

  private byte[] blob(int size) {
    var b = new byte[size];
    random.nextBytes(b);
    return b;
  }

  /** Takes the executor's only thread until the test unblocks it. */
  private void takeThread() throws InterruptedException {
    var running = new CountDownLatch(1);
    var unused = h.executor.submit(() -> {
      running.countDown();
      return unblock.await(30, TimeUnit.SECONDS);
    });
    assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();
  }

  /** Takes the executor's only thread and fills its queue of one. */
  private void saturate() throws InterruptedException {
    takeThread();
    var unused2 = h.executor.submit(() -> unblock.await(30, TimeUnit.SECONDS));
    assertThat(h.executor.submit(() -> 1)).as("saturated").isCompletedExceptionally();
  }

  private static void assertBusyAnswer(String text) {
    var lower = text.toLowerCase(Locale.ROOT);
    assertThat(text).startsWith("HTTP/1.1 503");
    assertThat(lower).containsPattern("\r\nretry-after: [1-5]\r\n");
  }

  @Test
  void putAc_announcementOverBudget_503WithRetryAfterAtOnce_connectionCloses() {
    open(4, 100, 1 << 20);
    var holder = h.connect();
    HttpHarness.send(holder, putHead(acPath(1), 800_000));
    assertThat(h.executor.inflightBytes()).as("claimed at the announcement").isEqualTo(800_000);

    var refused = h.connect();
    HttpHarness.send(refused, putHead(acPath(2), 800_000));
    var answer = HttpHarness.rawUntil(refused, "retry");
    assertBusyAnswer(answer);
    assertThat(answer.toLowerCase(Locale.ROOT)).contains("connection: close")
        .contains("max_inflight_bytes");
    refused.runPendingTasks();
    assertThat(refused.isOpen()).as("the unread body ends the connection").isFalse();
    assertThat(h.executor.inflightBytes()).as("the refused one claimed nothing").isEqualTo(800_000);

    HttpHarness.send(holder, "", blob(800_000));
    assertThat(HttpHarness.rawUntil(holder, "stored")).startsWith("HTTP/1.1 200");
    h.awaitQuiet();
  }

  @Test
  void getFromDisk_claimsWhatItHolds_overBudget503_releasedWhenSentOrClosed() throws Exception {
    // A zstd GET streams from disk (64 KiB chunks here): it claims two pieces while it lives.
    long twoPieces = 2 * ((64 << 10) + 1024);
    open(4, 100, twoPieces + (twoPieces / 2));
    var data = blob(1 << 20);
    var hash = DigestFunction.SHA256.hash(data);
    h.store.put(dev.buckcache.digest.Digest.of(DigestFunction.SHA256, data), data);
    var get = "GET /cas/" + hash + " HTTP/1.1\nHost: x\nAccept-Encoding: zstd\n\n";

    var first = h.connect();
    HttpHarness.send(first, get);
    awaitInflight(twoPieces); // opened on the executor and claimed, then held: its loop waits

    var refused = h.connect();
    HttpHarness.send(refused, get);
    var answer = HttpHarness.rawUntil(refused, "retry");
    assertBusyAnswer(answer);
    assertThat(answer).contains("max_inflight_bytes");

    assertThat(HttpHarness.rawUntil(first, "\r\n0\r\n\r\n")).startsWith("HTTP/1.1 200");
    assertThat(h.executor.inflightBytes()).as("returned once the stream is sent").isZero();

    // A blob of its own, streamed from disk like the first (the first may now be a memory hit).
    var other = blob(1 << 20);
    h.store.put(dev.buckcache.digest.Digest.of(DigestFunction.SHA256, other), other);
    var dropped = h.connect();
    HttpHarness.send(dropped, "GET /cas/" + DigestFunction.SHA256.hash(other)
        + " HTTP/1.1\nHost: x\nAccept-Encoding: zstd\n\n");
    awaitInflight(twoPieces);
    var unused = dropped.close(); // a client gone mid-stream
    h.awaitQuiet();
  }

  /** Polls the budget without running any connection's event loop (so no stream moves on). */
  private void awaitInflight(long bytes) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (h.executor.inflightBytes() != bytes && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(h.executor.inflightBytes()).as("in-flight bytes").isEqualTo(bytes);
  }

  @Test
  void idleTimeout_whileTheServerWorksOnACompleteRequest_doesNotCloseIt() throws Exception {
    // A big upload's commit (in shared mode, its bucket upload too) can take longer than the
    // idle timeout: the client is waiting on us then, not idle. Here the executor's only thread
    // is busy, so the upload's work waits; the idle timer fires meanwhile.
    open(1, 100, 64L << 20);
    takeThread();
    var content = blob(300_000);
    var c = h.connect();
    HttpHarness.send(c, putHead("/cas/" + DigestFunction.SHA256.hash(content), content.length),
        content);
    c.runPendingTasks();
    c.pipeline().fireUserEventTriggered(io.netty.handler.timeout.IdleStateEvent.ALL_IDLE_STATE_EVENT);
    c.runPendingTasks();
    assertThat(c.isOpen()).as("a request the server is working on is not idle").isTrue();
    unblock.countDown();
    assertThat(HttpHarness.rawUntil(c, "stored")).startsWith("HTTP/1.1 200");

    // An idle connection (no request at all) is still closed.
    var idle = h.connect();
    idle.pipeline().fireUserEventTriggered(io.netty.handler.timeout.IdleStateEvent.ALL_IDLE_STATE_EVENT);
    idle.runPendingTasks();
    assertThat(idle.isOpen()).isFalse();
    h.awaitQuiet();
  }

  @Test
  void putAc_overAcLimit_413AtOnce() {
    open(4, 100, 1 << 20);
    var c = h.connect();
    HttpHarness.send(c, putHead(acPath(1), 2L << 20));
    assertThat(HttpHarness.rawUntil(c, "limit")).startsWith("HTTP/1.1 413");
    assertThat(h.executor.inflightBytes()).isZero();
  }

  @Test
  void putAc_silentAnnouncements_eachClaimsItsLengthHoldsNothing_releasedOnClose() {
    open(4, 100, 64L << 20);
    var connections = new ArrayList<EmbeddedChannel>();
    for (int i = 0; i < 20; i++) {
      var c = h.connect();
      HttpHarness.send(c, putHead(acPath(i), 1 << 20));
      connections.add(c);
    }
    assertThat(h.executor.inflightBytes()).isEqualTo(20L << 20);
    for (var c : connections) {
      assertThat(((GatheredPutExchange) HttpHarness.current(c)).heldBytes())
          .as("no body arrived, so none is held").isZero();
    }
    connections.forEach(c -> c.close().syncUninterruptibly());
    h.awaitQuiet();
  }

  @Test
  void putAc_slowBody_memoryGrowsWithArrivalOnly() {
    open(4, 100, 64L << 20);
    var value = blob(1_000_000);
    var c = h.connect();
    HttpHarness.send(c, putHead(acPath(7), value.length));
    var exchange = (GatheredPutExchange) HttpHarness.current(c);
    int received = 0;
    for (int piece : new int[] {1, 999, 10_000, 100_000}) {
      HttpHarness.send(c, "", Arrays.copyOfRange(value, received, received + piece));
      received += piece;
      assertThat(exchange.heldBytes()).as("held after " + received + " bytes arrived")
          .isLessThanOrEqualTo(Math.max(2L * received, 16 * 1024));
    }
    HttpHarness.send(c, "", Arrays.copyOfRange(value, received, value.length));
    assertThat(HttpHarness.rawUntil(c, "stored")).startsWith("HTTP/1.1 200");
    h.send("GET " + acPath(7) + " HTTP/1.1\nHost: x\n\n");
    assertThat(bytes(h.response())).isEqualTo(value);
  }

  @Test
  void putCas_windowOverBudget_503WithRetryAfterAtOnce() {
    open(4, 100, 1 << 20);
    var holder = h.connect();
    HttpHarness.send(holder, putHead(acPath(1), 800_000));
    var content = blob(2 << 20);
    var c = h.connect();
    HttpHarness.send(c, putHead("/cas/" + DigestFunction.SHA256.hash(content), content.length));
    assertBusyAnswer(HttpHarness.rawUntil(c, "retry"));
    assertThat(h.store.openWriters()).as("no writer opened").isZero();
    holder.close().syncUninterruptibly();
    h.awaitQuiet();
  }

  @Test
  void putCas_inProgress_claimsItsWindow_releasedWhenStored() {
    open(4, 100, 64L << 20);
    var content = blob(3 << 20);
    var c = h.connect();
    HttpHarness.send(c, putHead("/cas/" + DigestFunction.SHA256.hash(content), content.length),
        Arrays.copyOf(content, 100_000));
    assertThat(h.executor.inflightBytes()).as("the queue window and the writer's buffer")
        .isGreaterThanOrEqualTo(100_000).isLessThanOrEqualTo(content.length + (1L << 20));
    HttpHarness.send(c, "", Arrays.copyOfRange(content, 100_000, content.length));
    assertThat(HttpHarness.rawUntil(c, "stored")).startsWith("HTTP/1.1 200");
    h.awaitQuiet();
  }

  @Test
  void putCas_commitWhilePoolSaturated_acceptedNotRefused_200() throws Exception {
    open(1, 1, 64L << 20);
    var content = blob(300_000);
    var c = h.connect();
    HttpHarness.send(c, putHead("/cas/" + DigestFunction.SHA256.hash(content), content.length),
        Arrays.copyOf(content, content.length - 1));
    var exchange = (PutCasExchange) HttpHarness.current(c);
    h.await("every piece so far written", () -> exchange.queuedBytes() == 0
        && h.store.stats().disk().uploadingBytes() > 0);
    saturate();
    HttpHarness.send(c, "", Arrays.copyOfRange(content, content.length - 1, content.length));
    // Accepted though the queue is full (a new operation is refused), behind the busy thread.
    h.await("the commit queued", () -> h.executor.queued() >= 2);
    unblock.countDown();
    var answer = HttpHarness.rawUntil(c, "\r\n\r\n");
    assertThat(answer).as("an admitted upload finishes, never refused half way").startsWith("HTTP/1.1 200");
    assertThat(h.store.stats().disk().uploadingBytes()).isZero();
    h.awaitQuiet();
  }

  @Test
  void putCas_writerOpenRefusedBusy_503AtOnce() throws Exception {
    open(1, 1, 64L << 20);
    saturate();
    var c = h.connect();
    HttpHarness.send(c, putHead("/cas/" + DigestFunction.SHA256.hash(blob(10)), 300_000));
    var answer = HttpHarness.rawUntil(c, "retry");
    assertBusyAnswer(answer);
    assertThat(answer.toLowerCase(Locale.ROOT)).as("no body was read").contains("connection: close");
    unblock.countDown();
    h.awaitQuiet();
  }

  @Test
  void getCas_connectionClosedWhileOpening_readerReleased() throws Exception {
    open(1, 1, 64L << 20);
    var content = blob(2 << 20);
    var path = "/cas/" + DigestFunction.SHA256.hash(content);
    h.send(putHead(path, content.length), content);
    assertThat(h.response().status().code()).isEqualTo(200);
    takeThread();
    var c = h.connect();
    HttpHarness.send(c, "GET " + path + " HTTP/1.1\nHost: x\n\n"); // its open waits in the queue
    c.close().syncUninterruptibly();
    unblock.countDown();
    h.await("the open left the queue", () -> h.executor.queued() == 0);
    assertThat(h.executor.submit(() -> 1).get(10, TimeUnit.SECONDS))
        .as("the open ran before this (one thread, in order)").isEqualTo(1);
    h.awaitQuiet(); // the reader opened for a closed connection is closed
  }
}
