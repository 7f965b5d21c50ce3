package dev.buckcache.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskAudit;
import dev.buckcache.storage.disk.DiskSettings;
import dev.buckcache.testing.LeakRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The real HTTP pipeline (codec + cache handler) in an EmbeddedChannel over a real store. Raw
 * request bytes go in; responses come out decoded by a client-side codec, or as raw text.
 */
final class HttpHarness implements AutoCloseable {
  final TieredStore store;
  final StorageExecutor executor;
  EmbeddedChannel channel;
  private final List<EmbeddedChannel> extra = new ArrayList<>();
  private final EmbeddedChannel client = new EmbeddedChannel(
      new HttpResponseDecoder(), new HttpObjectAggregator(64 << 20));
  private final StringBuilder raw = new StringBuilder();
  private final List<FullHttpResponse> handedOut = new ArrayList<>();

  private final dev.buckcache.auth.CallerResolver callers;
  private final long maxBlobSize;
  private final Path dir;

  /**
   * Static tokens for auth tests: {@code r-token} (laptop, read), {@code w-token} (ci, write) and
   * {@code m-token} (team, write, granted instance {@code main} only).
   */
  static dev.buckcache.auth.StaticTokens teamTokens(Path dir) throws java.io.IOException {
    var tokens = dir.resolve("tokens");
    java.nio.file.Files.writeString(tokens,
        "r-token laptop read\nw-token ci write\nm-token team write main\n");
    return dev.buckcache.auth.StaticTokens.load(tokens, null, false);
  }

  HttpHarness(Path dir, long maxBlobSize) {
    this(dir, maxBlobSize, dev.buckcache.auth.Authenticator.NONE);
  }

  HttpHarness(Path dir, long maxBlobSize, dev.buckcache.auth.Authenticator authenticator) {
    this(dir, maxBlobSize, dev.buckcache.auth.CallerResolver.deny(authenticator, peer -> null));
  }

  HttpHarness(Path dir, long maxBlobSize, dev.buckcache.auth.CallerResolver callers) {
    this(dir, maxBlobSize, callers, new StorageExecutor(4, 1000, 64L << 20));
  }

  /** Over a given executor (its pool, queue and in-flight byte budget). */
  HttpHarness(Path dir, long maxBlobSize, StorageExecutor executor) {
    this(dir, maxBlobSize, dev.buckcache.auth.CallerResolver.deny(
        dev.buckcache.auth.Authenticator.NONE, peer -> null), executor);
  }

  HttpHarness(Path dir, long maxBlobSize, dev.buckcache.auth.CallerResolver callers,
      StorageExecutor executor) {
    this.executor = executor;
    this.callers = callers;
    this.maxBlobSize = maxBlobSize;
    this.dir = dir;
    store = TieredStore.open(new DiskSettings(dir, 256L << 20, 0.8, true, 1, 64 * 1024),
        8L << 20, maxBlobSize);
    channel = newChannel(maxBlobSize);
  }

  private EmbeddedChannel newChannel(long maxBlobSize) {
    var deps = new HttpDeps(store, new ActionResults(store, store), executor, maxBlobSize,
        Math.min(maxBlobSize, 1 << 20),
        new dev.buckcache.config.DigestConfig(dev.buckcache.digest.DigestFunction.SHA256,
            java.util.Map.of("b3", dev.buckcache.digest.DigestFunction.BLAKE3)),
        callers, false, () -> "{\"CurrSize\":0}\n", null, () -> "", false, () -> "<html></html>",
        new dev.buckcache.insight.AuditLog(dir.resolve("audit.log")));
    return new EmbeddedChannel(new HttpServerCodec(new HttpDecoderConfig()
        .setMaxInitialLineLength(HttpInitializer.MAX_INITIAL_LINE)
        .setMaxHeaderSize(HttpInitializer.MAX_HEADER_SIZE)
        .setMaxChunkSize(HttpInitializer.MAX_CHUNK)), new CacheHttpHandler(deps, java.time.Duration.ofSeconds(60)));
  }

  /** Another connection to the same server, driven by the test with {@link #send(EmbeddedChannel, String)}. */
  EmbeddedChannel connect() {
    var c = newChannel(maxBlobSize);
    extra.add(c);
    return c;
  }

  static void send(EmbeddedChannel c, String head, byte[] body) {
    var bytes = head.replace("\n", "\r\n").getBytes(StandardCharsets.ISO_8859_1);
    var buf = Unpooled.buffer(bytes.length + (body == null ? 0 : body.length));
    buf.writeBytes(bytes);
    if (body != null) {
      buf.writeBytes(body);
    }
    c.writeInbound(buf);
  }

  static void send(EmbeddedChannel c, String head) {
    send(c, head, null);
  }

  /** Raw response text of an extra connection, once it contains {@code marker} (or after 30 s). */
  static String rawUntil(EmbeddedChannel c, String marker) {
    var text = new StringBuilder();
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!text.toString().contains(marker) && System.nanoTime() < deadline) {
      c.runPendingTasks();
      for (ByteBuf b = c.readOutbound(); b != null; b = c.readOutbound()) {
        text.append(b.toString(StandardCharsets.ISO_8859_1));
        b.release();
      }
      sleep();
    }
    return text.toString();
  }

  /** Runs every connection's event-loop tasks, so storage callbacks land. */
  void pumpAll() {
    pump();
    for (var c : extra) {
      c.runPendingTasks();
    }
  }

  /**
   * Waits (bounded, polling) until nothing is held: no open reader or writer, no upload bytes
   * pending on disk, no bytes claimed from the in-flight budget. Then asserts it, so a leak
   * fails with the numbers.
   */
  void awaitQuiet() {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!quiet() && System.nanoTime() < deadline) {
      pumpAll();
      sleep();
    }
    var s = store.stats();
    assertThat(new long[] {s.openReaders(), s.openWriters(), s.disk().uploadingBytes(),
        executor.inflightBytes()})
        .as("open readers, open writers, uploading bytes, in-flight bytes").containsOnly(0L);
  }

  /** Pumps every connection until {@code condition} holds; fails after 10 s. */
  void await(String what, java.util.function.BooleanSupplier condition) {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
      pumpAll();
      sleep();
    }
    assertThat(condition.getAsBoolean()).as(what).isTrue();
  }

  private boolean quiet() {
    var s = store.stats();
    return s.openReaders() == 0 && s.openWriters() == 0 && s.disk().uploadingBytes() == 0
        && executor.inflightBytes() == 0;
  }

  /** The exchange the connection is serving, for tests that look at what it holds. */
  static Exchange current(EmbeddedChannel c) {
    return c.pipeline().get(CacheHttpHandler.class).current();
  }

  /** A new connection (after the server closed one); raw text read so far is dropped. */
  void reconnect() {
    pump();
    channel.finishAndReleaseAll();
    raw.setLength(0);
    channel = newChannel(maxBlobSize);
  }

  void send(String head, byte[] body) {
    var bytes = head.replace("\n", "\r\n").getBytes(StandardCharsets.ISO_8859_1);
    var buf = Unpooled.buffer(bytes.length + (body == null ? 0 : body.length));
    buf.writeBytes(bytes);
    if (body != null) {
      buf.writeBytes(body);
    }
    channel.writeInbound(buf);
  }

  void send(String head) {
    send(head, null);
  }

  /** Waits for n decoded responses (storage work completes on other threads). */
  List<FullHttpResponse> responses(int n) {
    var out = new ArrayList<FullHttpResponse>();
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (out.size() < n && System.nanoTime() < deadline) {
      pump();
      for (Object m = client.readInbound(); m != null; m = client.readInbound()) {
        out.add((FullHttpResponse) m);
      }
      sleep();
    }
    handedOut.addAll(out);
    assertThat(out).as("responses").hasSize(n);
    return out;
  }

  FullHttpResponse response() {
    return responses(1).get(0);
  }

  /** Raw response text until {@code marker} shows up (for HEAD, whose bodies a decoder misreads). */
  String rawUntil(String marker) {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!raw.toString().contains(marker) && System.nanoTime() < deadline) {
      channel.runPendingTasks();
      for (ByteBuf b = channel.readOutbound(); b != null; b = channel.readOutbound()) {
        raw.append(b.toString(StandardCharsets.ISO_8859_1));
        b.release();
      }
      sleep();
    }
    return raw.toString();
  }

  /** Runs the event loop's tasks for a while so storage callbacks land. */
  void settle() {
    for (int i = 0; i < 50; i++) {
      pump();
      sleep();
    }
  }

  private void pump() {
    channel.runPendingTasks();
    for (ByteBuf b = channel.readOutbound(); b != null; b = channel.readOutbound()) {
      client.writeInbound(b);
    }
  }

  private static void sleep() {
    try {
      Thread.sleep(2);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static String body(FullHttpResponse r) {
    return r.content().toString(StandardCharsets.UTF_8);
  }

  static byte[] bytes(FullHttpResponse r) {
    var b = new byte[r.content().readableBytes()];
    r.content().getBytes(r.content().readerIndex(), b);
    return b;
  }

  @Override
  public void close() {
    settle();
    handedOut.forEach(r -> {
      if (r.refCnt() > 0) {
        r.release(r.refCnt());
      }
    });
    channel.finishAndReleaseAll();
    extra.forEach(EmbeddedChannel::finishAndReleaseAll);
    client.finishAndReleaseAll();
    awaitQuiet(); // every test ends with nothing held: no leaked reader, writer or claim
    executor.close();
    var report = DiskAudit.run(store.disk());
    store.close();
    assertThat(report.problems()).as("store invariants").isEmpty();
    assertThat(LeakRecorder.collect()).as("Netty leak reports").isEmpty();
  }
}
