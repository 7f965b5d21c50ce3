package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import com.google.protobuf.ByteString;
import dev.buckcache.digest.DigestFunction;
import io.grpc.ManagedChannel;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several real buckcache processes, each with its own --dir, on one bucket of a real S3 server
 * (s3proxy, SigV4): what one node acknowledged, another serves; a node killed mid-upload loses
 * nothing it acknowledged; a bucket outage keeps reads going, fails or queues writes as the
 * durability mode says, and ends without a restart; async uploads survive kill -9.
 */
class SharedStoreProcessTest {
  @TempDir Path dir;
  private S3ProxyServer s3;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();
  private final Random random = new Random(13);
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void bucket() throws Exception {
    s3 = S3ProxyServer.start(dir.resolve("s3"));
  }

  @AfterEach
  void close() throws Exception {
    for (var c : open) {
      c.close();
    }
    s3.close();
  }

  private ServerProcess node(String name, String durability, String... extra) throws Exception {
    var args = new ArrayList<>(s3.nodeFlags(durability));
    args.addAll(List.of(extra));
    var node = ServerProcess.serve(S3ProxyServer.credentials(), dir.resolve(name),
        args.toArray(String[]::new));
    open.add(node);
    return node;
  }

  /** A channel as Buck2 opens one (keepalive, RequestMetadata, its message limit). */
  private ManagedChannel channel(ServerProcess node) {
    var c = dev.buckcache.buck2.Buck2Client.channel("127.0.0.1", node.grpcPort());
    open.add(() -> c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    return c;
  }

  private byte[] bytes(int n) {
    var b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  private static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  private HttpResponse<byte[]> put(ServerProcess node, String path, byte[] body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(node.http() + path))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).timeout(Duration.ofSeconds(60)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  private HttpResponse<byte[]> get(ServerProcess node, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(node.http() + path))
        .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String text(HttpResponse<byte[]> r) {
    return new String(r.body(), java.nio.charset.StandardCharsets.UTF_8);
  }

  /** A gauge or counter's value on a node's /metrics, 0 if absent. */
  private double metric(ServerProcess node, String name) throws Exception {
    var m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*\\})? ([0-9.eE+-]+)$")
        .matcher(text(get(node, "/metrics")));
    return m.find() ? Double.parseDouble(m.group(2)) : 0;
  }

  private static void await(String what, Duration limit, Check check) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!check.ok()) {
      assertThat(System.nanoTime()).as(what).isLessThan(deadline);
      Thread.sleep(200);
    }
  }

  @FunctionalInterface
  interface Check {
    boolean ok() throws Exception;
  }

  @Test
  void writtenThroughOneNode_servedByAnother_overHttpAndGrpc() throws Exception {
    var a = node("a", "shared");
    var b = node("b", "shared");
    // HTTP into A: a small blob, a multipart one (over 64 MiB would be slow here: 3 MiB), an AC.
    var small = bytes(3000);
    var large = bytes(3 << 20);
    assertThat(put(a, "/cas/" + digest(small).getHash(), small).statusCode()).isEqualTo(200);
    assertThat(put(a, "/cas/" + digest(large).getHash(), large).statusCode()).isEqualTo(200);
    var acKey = "/ac/" + DigestFunction.SHA256.hash("an action".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    assertThat(put(a, acKey, new byte[] {1, 2, 3}).statusCode()).isEqualTo(200);
    // The other tools' artifacts (action-cache entries of their own): Gradle, Turborepo, Nx.
    var artifact = bytes(70_000);
    var toolPaths = java.util.List.of("/gradle/c04ae543a53645f629acdaad8b98071a",
        "/v8/artifacts/76b3615b36267c5a?slug=web", "/v1/cache/13457894561234567890");
    for (var path : toolPaths) {
      assertThat(put(a, path, artifact).statusCode()).as(path).isBetween(200, 202);
    }
    // The Buck2 pattern over gRPC into A: one BatchUpdateBlobs of 40 small blobs.
    var batch = BatchUpdateBlobsRequest.newBuilder();
    var blobs = new ArrayList<byte[]>();
    for (int i = 0; i < 40; i++) {
      var b1 = bytes(500 + i * 37);
      blobs.add(b1);
      batch.addRequestsBuilder().setDigest(digest(b1)).setData(ByteString.copyFrom(b1));
    }
    var channelA = channel(a);
    var updated = ContentAddressableStorageGrpc.newBlockingStub(channelA)
        .withDeadlineAfter(60, TimeUnit.SECONDS).batchUpdateBlobs(batch.build());
    assertThat(updated.getResponsesList()).allSatisfy(r -> assertThat(r.getStatus().getCode()).isZero());
    // And a big one by ByteStream, in Buck2's 4 MB messages.
    var streamed = bytes(9 << 20);
    assertThat(ByteStreams.write(channelA, digest(streamed).getHash(), streamed, 4_000_000, 0))
        .isEqualTo(streamed.length);

    // B has none of it on its disk, and serves all of it.
    var casB = ContentAddressableStorageGrpc.newBlockingStub(channel(b))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
    var all = new ArrayList<Digest>();
    blobs.forEach(x -> all.add(digest(x)));
    all.add(digest(small));
    all.add(digest(large));
    assertThat(casB.findMissingBlobs(FindMissingBlobsRequest.newBuilder().addAllBlobDigests(all)
        .build()).getMissingBlobDigestsList()).as("FindMissingBlobs through B").isEmpty();
    var read = casB.batchReadBlobs(BatchReadBlobsRequest.newBuilder()
        .addAllDigests(all.subList(0, 40)).build());
    for (int i = 0; i < 40; i++) {
      assertThat(read.getResponses(i).getData().toByteArray()).isEqualTo(blobs.get(i));
    }
    // A resumed ByteStream read through B (read_offset), then the whole blob.
    var rest = new java.io.ByteArrayOutputStream();
    com.google.bytestream.ByteStreamGrpc.newBlockingStub(channel(b)).read(
        com.google.bytestream.ReadRequest.newBuilder().setReadOffset(5_000_000).setResourceName(
            "blobs/" + digest(streamed).getHash() + "/" + streamed.length).build())
        .forEachRemaining(r -> rest.writeBytes(r.getData().toByteArray()));
    assertThat(rest.toByteArray()).isEqualTo(
        java.util.Arrays.copyOfRange(streamed, 5_000_000, streamed.length));
    assertThat(ByteStreams.read(channel(b), digest(streamed).getHash(), streamed.length))
        .isEqualTo(streamed);
    assertThat(get(b, "/cas/" + digest(large).getHash()).body()).isEqualTo(large);
    assertThat(get(b, "/cas/" + digest(small).getHash()).body()).isEqualTo(small);
    assertThat(get(b, acKey).body()).containsExactly(1, 2, 3);
    for (var path : toolPaths) {
      assertThat(get(b, path).body()).as(path).isEqualTo(artifact);
    }
    assertThat(get(b, "/cas/" + DigestFunction.SHA256.hash(bytes(10))).statusCode()).isEqualTo(404);
    assertThat(metric(b, "buckcache_s3_healthy")).isEqualTo(1);
    b.stopAndCheck();
    a.stopAndCheck();
  }

  @Test
  void wrongSecret_isRefusedByTheBucket_writes503NamingTheStore_secretNeverShown() throws Exception {
    var env = new java.util.HashMap<>(S3ProxyServer.credentials());
    env.put("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789");
    var node = ServerProcess.serve(env, dir.resolve("wrong"),
        s3.nodeFlags("shared").toArray(String[]::new));
    open.add(node);
    var blob = bytes(2000);
    var r = put(node, "/cas/" + digest(blob).getHash(), blob);
    assertThat(r.statusCode()).as(text(r)).isEqualTo(503);
    assertThat(text(r)).contains("shared store").doesNotContain("not-the-secret");
    assertThat(s3.objectCount("cas/")).as("nothing reached the bucket").isZero();
    assertThat(String.join("\n", node.output())).doesNotContain("not-the-secret");
  }

  @Test
  void nodeKilledMidUploads_everyBlobItAcknowledgedIsServedByAnother() throws Exception {
    var a = node("a", "shared");
    var b = node("b", "shared");
    var acked = new ConcurrentHashMap<String, byte[]>();
    var answered = new AtomicInteger();
    var pool = Executors.newFixedThreadPool(8);
    var contents = new ArrayList<byte[]>();
    for (int i = 0; i < 50; i++) {
      contents.add(bytes((256 << 10) + random.nextInt(2 << 20)));
    }
    for (var content : contents) {
      var unused = pool.submit(() -> {
        try {
          var hash = digest(content).getHash();
          if (put(a, "/cas/" + hash, content).statusCode() == 200) {
            acked.put(hash, content);
          }
        } catch (Exception e) {
          // the node died under this upload: not acknowledged
        } finally {
          answered.incrementAndGet();
        }
        return null;
      });
    }
    await("some uploads acknowledged", Duration.ofSeconds(60), () -> acked.size() >= 15);
    a.kill();
    pool.shutdown();
    assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
    System.out.printf("shared kill: %d of 50 acknowledged before kill -9%n", acked.size());
    assertThat(acked.size()).as("the kill came mid-way").isLessThan(50);
    for (var e : acked.entrySet()) {
      var r = get(b, "/cas/" + e.getKey());
      assertThat(r.statusCode()).as("acknowledged blob %s via B", e.getKey()).isEqualTo(200);
      assertThat(r.body()).isEqualTo(e.getValue());
    }
    b.stopAndCheck();
  }

  @Test
  void bucketOutage_readsGoOn_sharedRefusesAsyncQueues_bothRecover_asyncSurvivesKill9()
      throws Exception {
    var shared = node("shared", "shared");
    var async = node("async", "async");
    var reader = node("reader", "shared");
    var before = bytes(5000);
    assertThat(put(shared, "/cas/" + digest(before).getHash(), before).statusCode()).isEqualTo(200);

    s3.stop();
    assertThat(get(shared, "/cas/" + digest(before).getHash()).body())
        .as("local data is served while the bucket is down").isEqualTo(before);
    var refusedBlob = bytes(6000);
    await("shared mode refuses writes while the bucket is down", Duration.ofSeconds(30), () -> {
      var r = put(shared, "/cas/" + digest(refusedBlob).getHash(), refusedBlob);
      return r.statusCode() == 503 && text(r).contains("shared store");
    });
    assertThat(text(get(shared, "/status"))).contains("degraded: shared store");
    assertThat(get(shared, "/healthz").statusCode()).isEqualTo(200);
    // Async: acknowledged at once, queued; then the node is killed with the queue full of them.
    var queued = new HashMap<String, byte[]>();
    for (int i = 0; i < 100; i++) {
      var b = bytes(1000 + i);
      assertThat(put(async, "/cas/" + digest(b).getHash(), b).statusCode()).isEqualTo(200);
      queued.put(digest(b).getHash(), b);
    }
    assertThat(metric(async, "buckcache_s3_queue_items")).isEqualTo(100);
    async.kill();

    s3.start();
    await("shared mode writes again without a restart", Duration.ofSeconds(30),
        () -> put(shared, "/cas/" + digest(refusedBlob).getHash(), refusedBlob).statusCode() == 200);
    var restarted = node("async", "async");
    await("the async queue drains after the restart", Duration.ofSeconds(60),
        () -> metric(restarted, "buckcache_s3_queue_items") == 0);
    for (var e : queued.entrySet()) {
      var r = get(reader, "/cas/" + e.getKey());
      assertThat(r.statusCode()).as("queued blob %s via another node", e.getKey()).isEqualTo(200);
      assertThat(r.body()).isEqualTo(e.getValue());
    }
    assertThat(get(reader, "/cas/" + digest(refusedBlob).getHash()).body()).isEqualTo(refusedBlob);
    restarted.stopAndCheck();
    shared.stopAndCheck();
    reader.stopAndCheck();
  }
}
