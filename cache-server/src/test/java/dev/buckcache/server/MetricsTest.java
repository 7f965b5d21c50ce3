package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.digest.DigestFunction;
import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.netty.NettyChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scripted traffic over both protocols moves the Prometheus meters as it should. */
class MetricsTest {
  @TempDir Path dir;
  private BuckcacheServer server;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() {
    var config = new ConfigLoader(Map.of("AUTH_TOKEN", "t0ken"), 4L << 30).load(null, Map.of(
        "storage.dir", dir.toString(), "storage.max_size", "128MB", "storage.memory_size", "8MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0"));
    server = BuckcacheServer.start(config);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private String url(String path) {
    return "http://127.0.0.1:" + server.httpAddress().getPort() + path;
  }

  private int send(String method, String path, byte[] body, boolean token) throws Exception {
    var b = HttpRequest.newBuilder(URI.create(url(path)))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    if (token) {
      b.header("Authorization", "Bearer t0ken");
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  private String scrape() throws Exception {
    var r = http.send(HttpRequest.newBuilder(URI.create(url("/metrics"))).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("loopback reads /metrics without a token").isEqualTo(200);
    return r.body();
  }

  private static double value(String scrape, String series) {
    var m = Pattern.compile("^" + Pattern.quote(series) + " ([0-9.eE+-]+)$", Pattern.MULTILINE).matcher(scrape);
    assertThat(m.find()).as("series %s in\n%s", series, scrape.lines().filter(l -> l.startsWith("buckcache"))
        .reduce("", (a, b) -> a + "\n" + b)).isTrue();
    return Double.parseDouble(m.group(1));
  }

  @Test
  void httpHitsMissesAndAuthFailures_areCounted() throws Exception {
    var blob = "some output".getBytes(StandardCharsets.UTF_8);
    var sha = DigestFunction.SHA256.hash(blob);
    assertThat(send("PUT", "/cas/" + sha, blob, true)).isEqualTo(200);
    assertThat(send("GET", "/cas/" + sha, null, true)).isEqualTo(200);
    assertThat(send("GET", "/cas/" + "0".repeat(64), null, true)).isEqualTo(404);
    assertThat(send("GET", "/cas/" + sha, null, false)).isEqualTo(401);
    var s = scrape();
    assertThat(value(s, "buckcache_requests_total{kind=\"cas\",method=\"GET\",protocol=\"http\",result=\"hit\"}")).isEqualTo(1);
    assertThat(value(s, "buckcache_requests_total{kind=\"cas\",method=\"GET\",protocol=\"http\",result=\"miss\"}")).isEqualTo(1);
    assertThat(value(s, "buckcache_requests_total{kind=\"cas\",method=\"PUT\",protocol=\"http\",result=\"ok\"}")).isEqualTo(1);
    assertThat(value(s, "buckcache_auth_failures_total{protocol=\"http\",reason=\"missing\"}")).isEqualTo(1);
    assertThat(value(s, "buckcache_hit_ratio{kind=\"cas\"}")).isEqualTo(0.5);
    assertThat(value(s, "buckcache_transferred_bytes_total{direction=\"in\",protocol=\"http\"}")).isEqualTo(blob.length);
    assertThat(value(s, "buckcache_store_entries")).isEqualTo(1);
    assertThat(s).contains("jvm_memory_used_bytes").contains("netty_allocator_memory_used")
        .contains("buckcache_request_duration_seconds_bucket").doesNotContain("t0ken").doesNotContain(sha);
  }

  @Test
  void grpcActionCache_hitRatioCountsIntegrity() throws Exception {
    var channel = NettyChannelBuilder.forAddress(server.grpcAddress()).usePlaintext().build();
    try {
      var ac = ActionCacheGrpc.newBlockingStub(channel).withCallCredentials(new CallCredentials() {
        @Override
        public void applyRequestMetadata(RequestInfo info, Executor e, MetadataApplier applier) {
          var m = new Metadata();
          m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer t0ken");
          applier.apply(m);
        }
      });
      var action = Digest.newBuilder().setHash("a".repeat(64)).setSizeBytes(10).build();
      ac.updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(action)
          .setActionResult(ActionResult.getDefaultInstance()).build());
      ac.getActionResult(GetActionResultRequest.newBuilder().setActionDigest(action).build());
      var dangling = ActionResult.newBuilder();
      dangling.addOutputFilesBuilder().setPath("o").getDigestBuilder().setHash("b".repeat(64)).setSizeBytes(3);
      var other = Digest.newBuilder().setHash("c".repeat(64)).setSizeBytes(10).build();
      ac.updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(other)
          .setActionResult(dangling).build());
      try {
        ac.getActionResult(GetActionResultRequest.newBuilder().setActionDigest(other).build());
      } catch (io.grpc.StatusRuntimeException expected) {
        // NOT_FOUND: its output is missing
      }
      var s = scrape();
      assertThat(value(s, "buckcache_ac_lookups_total{result=\"hit\"}")).isEqualTo(1);
      assertThat(value(s, "buckcache_ac_lookups_total{result=\"miss\"}")).isEqualTo(1);
      assertThat(value(s, "buckcache_hit_ratio{kind=\"ac\"}")).isEqualTo(0.5);
      assertThat(value(s, "buckcache_requests_total{kind=\"ac\",method=\"GetActionResult\",protocol=\"grpc\",result=\"hit\"}")).isEqualTo(1);
      assertThat(value(s, "buckcache_requests_total{kind=\"ac\",method=\"GetActionResult\",protocol=\"grpc\",result=\"miss\"}")).isEqualTo(1);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
  private static java.util.Set<String> buckcacheSeries(String scrape) {
    return scrape.lines().filter(l -> l.startsWith("buckcache_"))
        .map(l -> l.substring(0, l.lastIndexOf(' '))).collect(java.util.stream.Collectors.toSet());
  }

  private static final io.grpc.MethodDescriptor.Marshaller<byte[]> BYTES = new io.grpc.MethodDescriptor.Marshaller<>() {
    @Override
    public java.io.InputStream stream(byte[] value) {
      return new java.io.ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(java.io.InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  };

  private static void unknownRpc(io.grpc.Channel channel, String fullName) {
    var method = io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(io.grpc.MethodDescriptor.MethodType.UNARY).setFullMethodName(fullName)
        .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
    try {
      io.grpc.stub.ClientCalls.blockingUnaryCall(channel, method, io.grpc.CallOptions.DEFAULT, new byte[0]);
    } catch (io.grpc.StatusRuntimeException expected) {
      // UNIMPLEMENTED or UNAUTHENTICATED: either way no new series
    }
  }

  private void clientChosenNames(java.util.Random random, io.grpc.Channel channel) throws Exception {
    for (int i = 0; i < 100; i++) {
      var word = new StringBuilder();
      for (int j = 0; j < 12; j++) {
        word.append((char) ('A' + random.nextInt(26)));
      }
      var b = HttpRequest.newBuilder(URI.create(url("/" + word.toString().toLowerCase(java.util.Locale.ROOT) + "/cas/" + word)))
          .method(word.toString(), HttpRequest.BodyPublishers.noBody()).header("X-" + word, word.toString());
      if (random.nextBoolean()) {
        b.header("Authorization", "Bearer " + word);
      }
      http.send(b.build(), HttpResponse.BodyHandlers.discarding());
      send(random.nextBoolean() ? "GET" : "DELETE", "/" + word + "/ac/" + word, null, random.nextBoolean());
      unknownRpc(channel, "build.bazel.remote.execution.v2.ContentAddressableStorage/" + word);
      unknownRpc(channel, word + ".Service/" + word);
    }
  }

  @Test
  void clientChosenMethodsPathsHeadersAndRpcs_addNoSeries() throws Exception {
    var channel = NettyChannelBuilder.forAddress(server.grpcAddress()).usePlaintext().build();
    try {
      var random = new java.util.Random(12);
      clientChosenNames(random, channel); // the first of each kind creates its ("other") series
      scrape(); // and so does the first scrape
      var before = buckcacheSeries(scrape());
      clientChosenNames(random, channel);
      assertThat(buckcacheSeries(scrape())).containsExactlyInAnyOrderElementsOf(before);
      assertThat(scrape()).contains("method=\"other\"");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
  /** Polls the scrape (bounded) until {@code series} reads {@code expected}. */
  private void awaitValue(String series, double expected) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (value(scrape(), series) != expected && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(value(scrape(), series)).as(series).isEqualTo(expected);
  }

  @Test
  void inflightBytesAndOpenWriters_gaugesFollowUploads_backToZeroOnClose() throws Exception {
    var s = scrape();
    assertThat(value(s, "buckcache_inflight_bytes")).isZero();
    assertThat(value(s, "buckcache_store_open_readers")).isZero();
    assertThat(value(s, "buckcache_store_open_writers")).isZero();
    var content = new byte[3 << 20];
    new java.util.Random(3).nextBytes(content);
    try (var ac = new java.net.Socket("127.0.0.1", server.httpAddress().getPort());
        var cas = new java.net.Socket("127.0.0.1", server.httpAddress().getPort())) {
      ac.getOutputStream().write(("PUT /ac/" + "1".repeat(64) + " HTTP/1.1\r\nHost: x\r\n"
          + "Authorization: Bearer t0ken\r\nContent-Length: 100000\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      awaitValue("buckcache_inflight_bytes", 100_000);
      var status = http.send(HttpRequest.newBuilder(URI.create(url("/status")))
          .header("Authorization", "Bearer t0ken").build(), HttpResponse.BodyHandlers.ofString());
      assertThat(status.body()).contains("\"InflightBytes\":100000").contains("\"OpenWriters\":0")
          .contains("\"OpenReaders\":0");
      var out = cas.getOutputStream();
      out.write(("PUT /cas/" + DigestFunction.SHA256.hash(content) + " HTTP/1.1\r\nHost: x\r\n"
          + "Authorization: Bearer t0ken\r\nContent-Length: " + content.length + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.write(content, 0, 2 << 20);
      out.flush();
      awaitValue("buckcache_store_open_writers", 1);
    }
    awaitValue("buckcache_store_open_writers", 0);
    awaitValue("buckcache_store_uploading_bytes", 0);
    awaitValue("buckcache_inflight_bytes", 0);
    assertThat(value(scrape(), "buckcache_store_open_readers")).isZero();
  }

  @Test
  void statusPageCasHitRatio_ignoresActionCacheReads_andMatchesPrometheus() throws Exception {
    var blob = "a cas blob".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    var sha = DigestFunction.SHA256.hash(blob);
    assertThat(send("PUT", "/cas/" + sha, blob, true)).isEqualTo(200);
    assertThat(send("GET", "/cas/" + sha, null, true)).isEqualTo(200);
    assertThat(send("GET", "/cas/" + "0".repeat(64), null, true)).isEqualTo(404);
    for (int i = 1; i <= 6; i++) {
      assertThat(send("GET", "/ac/" + Integer.toString(i).repeat(64), null, true)).isEqualTo(404);
    }
    var page = http.send(HttpRequest.newBuilder(URI.create(url("/"))).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    var shown = Pattern.compile("id=\"cas-hit-ratio\">([0-9.]+)%").matcher(page);
    assertThat(shown.find()).as(page).isTrue();
    double prometheus = value(scrape(), "buckcache_hit_ratio{kind=\"cas\"}");
    assertThat(prometheus).isEqualTo(0.5);
    assertThat(Double.parseDouble(shown.group(1))).isEqualTo(prometheus * 100);
    var status = http.send(HttpRequest.newBuilder(URI.create(url("/status")))
            .header("Authorization", "Bearer t0ken").build(),
        HttpResponse.BodyHandlers.ofString()).body();
    assertThat(status).contains("\"HitRatio\":0.5000");
  }

  @Test
  void nettyAllocatorMeters_describeTheAllocatorInUse() throws Exception {
    var allocator = io.netty.buffer.ByteBufAllocator.DEFAULT;
    var type = "allocator_type=\"" + allocator.getClass().getSimpleName() + "\"";
    var buffer = allocator.directBuffer(4 << 20);
    try {
      var used = scrape().lines().filter(l -> l.startsWith("netty_allocator_memory_used{")
          && l.contains(type) && l.contains("memory_type=\"direct\"")).toList();
      assertThat(used).singleElement().satisfies(l ->
          assertThat(Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).isGreaterThanOrEqualTo(4 << 20));
    } finally {
      buffer.release();
    }
  }
}
