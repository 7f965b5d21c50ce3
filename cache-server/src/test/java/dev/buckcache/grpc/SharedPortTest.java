package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import dev.buckcache.auth.AuthException;
import dev.buckcache.auth.CallerResolver;
import dev.buckcache.config.AuthConfig;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskSettings;
import dev.buckcache.testing.LeakRecorder;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One port, two protocols: what the HTTP port does with gRPC, HTTP/1.1, garbage and h2c upgrade
 * requests, and that a relayed connection never outlives either of its ends.
 */
class SharedPortTest {
  private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  @TempDir Path dir;
  private TieredStore store;
  private SharedPort server;
  private ManagedChannel channel;
  private final List<String> warnings = new CopyOnWriteArrayList<>();

  private void start(CallerResolver callers) throws Exception {
    start(callers, Duration.ofSeconds(60));
  }

  private void start(CallerResolver callers, Duration idleTimeout) throws Exception {
    store = TieredStore.open(new DiskSettings(dir, 512L << 20, 0.8, true, 1, 1 << 20), 16L << 20,
        1L << 34);
    server = new SharedPort(store, callers, null, idleTimeout);
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.httpPort()).usePlaintext()
        .maxInboundMessageSize(16 << 20).build();
  }

  private void start() throws Exception {
    start(CallerResolver.deny(dev.buckcache.auth.Authenticator.NONE, p -> null));
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      assertThat(server.bridge.awaitClosed(Duration.ofSeconds(10))).as("relayed connections").isTrue();
      server.close();
      assertThat(server.grpc.isTerminated()).isTrue();
      store.close();
    }
    assertThat(LeakRecorder.collect()).isEmpty();
  }

  private static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  @Test
  void httpPut_thenGrpcOnTheSamePort_findsTheBlob() throws Exception {
    start();
    var blob = "shared port".getBytes(StandardCharsets.UTF_8);
    // Java's client offers "Upgrade: h2c" on its first cleartext request: served as HTTP/1.1.
    var http = HttpClient.newHttpClient();
    var put = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
        + "/cas/" + DigestFunction.SHA256.hash(blob))).PUT(HttpRequest.BodyPublishers.ofByteArray(blob))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(put.statusCode()).isEqualTo(200);
    assertThat(put.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
    var missing = ContentAddressableStorageGrpc.newBlockingStub(channel).findMissingBlobs(
        FindMissingBlobsRequest.newBuilder().addBlobDigests(digest(blob))
            .addBlobDigests(digest("absent".getBytes(StandardCharsets.UTF_8))).build());
    assertThat(missing.getMissingBlobDigestsList()).containsExactly(digest("absent".getBytes(StandardCharsets.UTF_8)));
    assertThat(server.bridge.open()).isEqualTo(1);
    // No thread hop between the socket and grpc-java: the relay's LocalChannels share its loop.
    assertThat(server.bridge.onTheirSocketsLoop()).isEqualTo(1);
  }

  @Test
  void byteStream_32MiBUpAndDown_overTheHttpPort_exact() throws Exception {
    start();
    var data = new byte[32 << 20];
    new Random(5).nextBytes(data);
    var d = digest(data);
    var done = new CompletableFuture<WriteResponse>();
    var write = ByteStreamGrpc.newStub(channel).write(new StreamObserver<>() {
      @Override public void onNext(WriteResponse r) { done.complete(r); }
      @Override public void onError(Throwable t) { done.completeExceptionally(t); }
      @Override public void onCompleted() {}
    });
    var name = "uploads/" + UUID.randomUUID() + "/blobs/" + d.getHash() + "/" + d.getSizeBytes();
    int chunk = 1 << 20;
    for (int off = 0; off < data.length; off += chunk) {
      write.onNext(WriteRequest.newBuilder().setResourceName(off == 0 ? name : "")
          .setWriteOffset(off).setData(ByteString.copyFrom(data, off, chunk))
          .setFinishWrite(off + chunk == data.length).build());
    }
    write.onCompleted();
    assertThat(done.get(60, TimeUnit.SECONDS).getCommittedSize()).isEqualTo(data.length);
    var sha = MessageDigest.getInstance("SHA-256");
    long n = 0;
    for (var it = ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
        .setResourceName("blobs/" + d.getHash() + "/" + d.getSizeBytes()).build()); it.hasNext(); ) {
      var bytes = it.next().getData();
      sha.update(bytes.asReadOnlyByteBuffer());
      n += bytes.size();
    }
    assertThat(n).isEqualTo(data.length);
    assertThat(HexFormat.of().formatHex(sha.digest())).isEqualTo(d.getHash());
  }

  @Test
  void grpcCaller_isSeenAtItsRealAddress_notTheBridge() throws Exception {
    CallerResolver.FailureCounter none = CallerResolver.FailureCounter.NONE;
    start(new CallerResolver(auth -> {
      throw new AuthException(AuthException.Reason.MISSING, "missing credentials");
    }, AuthConfig.Anonymous.MISS, p -> null, none, com.github.benmanes.caffeine.cache.Ticker.systemTicker(),
        warnings::add));
    var blob = digest("x".getBytes(StandardCharsets.UTF_8));
    var missing = ContentAddressableStorageGrpc.newBlockingStub(channel).findMissingBlobs(
        FindMissingBlobsRequest.newBuilder().addBlobDigests(blob).build());
    assertThat(missing.getMissingBlobDigestsList()).containsExactly(blob);
    assertThat(warnings).singleElement().asString().startsWith("grpc caller at 127.0.0.1: no token");
  }

  @Test
  void garbage_getsHttp400_andTheConnectionCloses() throws Exception {
    start();
    var answer = exchange("\u0016\u0003\u0001garbage \u0000\u0001\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), true);
    assertThat(answer).startsWith("HTTP/1.1 400");
    assertThat(server.bridge.open()).isZero();
  }

  @Test
  void almostThePreface_isHttp11_andAnsweredAsSuch() throws Exception {
    start();
    var answer = exchange("PRI * HTTP/2.0\r\n\r\nXY\r\n\r\n".getBytes(StandardCharsets.US_ASCII), true);
    assertThat(answer).startsWith("HTTP/1.1 4");
    assertThat(server.bridge.open()).isZero();
  }

  @Test
  void h2cUpgradeRequest_isServedAsHttp11_noSwitch() throws Exception {
    start();
    var head = String.join("\r\n", "GET /healthz HTTP/1.1", "Host: x",
        "Connection: close, Upgrade, HTTP2-Settings", "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA", "", "");
    var answer = exchange(head.getBytes(StandardCharsets.US_ASCII), true);
    assertThat(answer).startsWith("HTTP/1.1 200").doesNotContain("101");
    assertThat(server.bridge.open()).isZero();
  }

  @Test
  void preface_thenClientCloses_bothSidesClose() throws Exception {
    start();
    try (var socket = new Socket("127.0.0.1", server.httpPort())) {
      socket.getOutputStream().write(PREFACE);
      socket.getOutputStream().flush();
      awaitOpen(1);
    }
    assertThat(server.bridge.awaitClosed(Duration.ofSeconds(10))).isTrue();
  }

  @Test
  void preface_thenGarbageFrames_grpcClosesAndSoDoesTheSocket() throws Exception {
    start();
    var bytes = new ByteArrayOutputStream();
    bytes.write(PREFACE);
    bytes.write(new byte[] {0, 0, 4, 0x7f, (byte) 0xff, 1, 2, 3, 4, 5, 6, 7, 8}); // not a SETTINGS frame
    var answer = exchange(bytes.toByteArray(), false);
    assertThat(answer).isNotEmpty(); // grpc-java's SETTINGS and GOAWAY, then EOF
    assertThat(server.bridge.awaitClosed(Duration.ofSeconds(10))).isTrue();
  }

  @Test
  void partOfThePreface_waits_thenTheIdleTimeoutClosesIt() throws Exception {
    start(CallerResolver.deny(dev.buckcache.auth.Authenticator.NONE, p -> null), Duration.ofSeconds(2));
    // "PRI" could still become the preface: the detector waits, the connection stays open...
    try (var socket = new Socket("127.0.0.1", server.httpPort())) {
      socket.getOutputStream().write("PRI".getBytes(StandardCharsets.US_ASCII));
      socket.setSoTimeout(500);
      assertThat(readSome(socket.getInputStream())).isEqualTo(-2);
      // ... until http.idle_timeout, as for a request head that never arrives: EOF, no answer.
      socket.setSoTimeout(10_000);
      assertThat(readSome(socket.getInputStream())).isEqualTo(-1);
    }
    assertThat(server.bridge.open()).isZero();
  }

  @Test
  void clientThatStopsReading_hugeWindow_serverStopsSendingAtTheSocketsLimit() throws Exception {
    start();
    var data = new byte[64 << 20];
    new Random(9).nextBytes(data);
    var d = digest(data);
    var done = new CompletableFuture<WriteResponse>();
    var write = ByteStreamGrpc.newStub(channel).write(new StreamObserver<>() {
      @Override public void onNext(WriteResponse r) { done.complete(r); }
      @Override public void onError(Throwable t) { done.completeExceptionally(t); }
      @Override public void onCompleted() {}
    });
    int chunk = 1 << 20;
    for (int off = 0; off < data.length; off += chunk) {
      write.onNext(WriteRequest.newBuilder().setResourceName(off == 0
              ? "uploads/" + UUID.randomUUID() + "/blobs/" + d.getHash() + "/" + d.getSizeBytes() : "")
          .setWriteOffset(off).setData(ByteString.copyFrom(data, off, chunk))
          .setFinishWrite(off + chunk == data.length).build());
    }
    write.onCompleted();
    done.get(60, TimeUnit.SECONDS);
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    assertThat(server.bridge.awaitClosed(Duration.ofSeconds(10))).isTrue();

    // A raw HTTP/2 client: a 2 GiB window, one ByteStream Read of the 64 MiB blob, then it
    // never reads its socket again.
    var group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
        io.netty.channel.nio.NioIoHandler.newFactory());
    try {
      var request = ReadRequest.newBuilder()
          .setResourceName("blobs/" + d.getHash() + "/" + d.getSizeBytes()).build().toByteArray();
      var sent = new CompletableFuture<Void>();
      var client = new io.netty.bootstrap.Bootstrap().group(group)
          .channel(io.netty.channel.socket.nio.NioSocketChannel.class)
          .option(io.netty.channel.ChannelOption.SO_RCVBUF, 64 * 1024)
          .handler(new io.netty.channel.ChannelInitializer<io.netty.channel.Channel>() {
            @Override
            protected void initChannel(io.netty.channel.Channel ch) {
              var codec = io.netty.handler.codec.http2.Http2FrameCodecBuilder.forClient()
                  .initialSettings(io.netty.handler.codec.http2.Http2Settings.defaultSettings()
                      .initialWindowSize(Integer.MAX_VALUE)).build();
              var releasing = new Releasing();
              ch.pipeline().addLast(codec, new io.netty.handler.codec.http2.Http2MultiplexHandler(releasing),
                  new io.netty.channel.ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(io.netty.channel.ChannelHandlerContext ctx) {
                  ctx.fireChannelActive();
                  var unusedWindow = ctx.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame(
                      Integer.MAX_VALUE - 65_535));
                  var stream = new io.netty.handler.codec.http2.Http2StreamChannelBootstrap(ctx.channel())
                      .handler(releasing).open().syncUninterruptibly().getNow();
                  var headers = new io.netty.handler.codec.http2.DefaultHttp2Headers()
                      .method("POST").scheme("http").authority("127.0.0.1")
                      .path("/google.bytestream.ByteStream/Read")
                      .set("content-type", "application/grpc").set("te", "trailers");
                  var body = stream.alloc().buffer(5 + request.length).writeByte(0)
                      .writeInt(request.length).writeBytes(request);
                  var unusedHeaders = stream.write(new io.netty.handler.codec.http2.DefaultHttp2HeadersFrame(headers));
                  var unusedData = stream.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2DataFrame(body, true))
                      .addListener(f -> {
                        ctx.channel().config().setAutoRead(false); // and never read again
                        sent.complete(null);
                      });
                }
              });
            }
          }).connect("127.0.0.1", server.httpPort()).sync().channel();
      sent.get(10, TimeUnit.SECONDS);
      Thread.sleep(3000); // the server sends what it can
      long pending = server.bridge.pendingToClients();
      System.out.printf("a client that stopped reading a 64 MiB ByteStream Read: %,d bytes wait "
          + "in the server's socket buffer%n", pending);
      // At most the bridge's 8 MiB limit on answers waiting for the socket, plus what was in
      // flight when it stopped reading gRPC's side (a loaded machine saw 9.4 MB): not the blob
      // (63 MB wait without the bridge's backpressure).
      assertThat(pending).isLessThan(16L << 20);
      client.close().sync();
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
    channel = null;
  }

  /** Drops what it reads. */
  @io.netty.channel.ChannelHandler.Sharable
  private static final class Releasing extends io.netty.channel.ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
      io.netty.util.ReferenceCountUtil.release(msg);
    }
  }

  /** Writes {@code bytes}, then reads until the server closes; the answer as text. */
  private String exchange(byte[] bytes, boolean text) throws Exception {
    try (var socket = new Socket("127.0.0.1", server.httpPort())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(bytes);
      socket.getOutputStream().flush();
      var out = new ByteArrayOutputStream();
      socket.getInputStream().transferTo(out); // ends at EOF: the server closed its side
      return text ? out.toString(StandardCharsets.ISO_8859_1) : HexFormat.of().formatHex(out.toByteArray());
    }
  }

  /** -1 at EOF, -2 when nothing arrived before the socket's timeout, else the byte. */
  private static int readSome(InputStream in) throws Exception {
    try {
      return in.read();
    } catch (java.net.SocketTimeoutException e) {
      return -2;
    }
  }

  private void awaitOpen(int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (server.bridge.open() != n && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(server.bridge.open()).isEqualTo(n);
  }
}
