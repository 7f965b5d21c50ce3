package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.google.protobuf.ByteString;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.digest.DigestFunction;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One store behind both front ends: what goes in over HTTP comes out over gRPC, and back. */
class CrossProtocolTest {
  @TempDir Path dir;
  private BuckcacheServer server;
  private ManagedChannel channel;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() {
    var config = new ConfigLoader(Map.of(), 4L << 30).load(null, Map.of(
        "storage.dir", dir.toString(), "storage.max_size", "256MB", "storage.memory_size", "16MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0"));
    server = BuckcacheServer.start(config);
    channel = NettyChannelBuilder.forAddress(server.grpcAddress()).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  private String base() {
    return "http://127.0.0.1:" + server.httpAddress().getPort();
  }

  private static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  @Test
  void putOverHttp_readOverGrpc() throws Exception {
    var blob = "built over http".repeat(1000).getBytes(StandardCharsets.UTF_8);
    var put = http.send(HttpRequest.newBuilder(URI.create(base() + "/cas/" + digest(blob).getHash()))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(put.statusCode()).isEqualTo(200);
    var cas = ContentAddressableStorageGrpc.newBlockingStub(channel);
    assertThat(cas.findMissingBlobs(FindMissingBlobsRequest.newBuilder()
        .addBlobDigests(digest(blob)).build()).getMissingBlobDigestsCount()).isZero();
    var read = cas.batchReadBlobs(BatchReadBlobsRequest.newBuilder().addDigests(digest(blob)).build());
    assertThat(read.getResponses(0).getData().toByteArray()).isEqualTo(blob);
  }

  @Test
  void putOverGrpc_readOverHttp_bothKinds() throws Exception {
    var blob = "built over grpc".getBytes(StandardCharsets.UTF_8);
    var cas = ContentAddressableStorageGrpc.newBlockingStub(channel);
    cas.batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder().addRequests(
        BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest(blob))
            .setData(ByteString.copyFrom(blob))).build());
    var get = http.send(HttpRequest.newBuilder(URI.create(base() + "/cas/" + digest(blob).getHash()))
        .build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(get.body()).isEqualTo(blob);

    var result = ActionResult.newBuilder()
        .setExecutionMetadata(ExecutedActionMetadata.newBuilder().setWorker("w"));
    result.addOutputFilesBuilder().setPath("o").setDigest(digest(blob));
    var action = digest("action".getBytes(StandardCharsets.UTF_8));
    ActionCacheGrpc.newBlockingStub(channel).updateActionResult(UpdateActionResultRequest
        .newBuilder().setActionDigest(action).setActionResult(result).build());
    var ac = http.send(HttpRequest.newBuilder(URI.create(base() + "/ac/" + action.getHash())).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(ActionResult.parseFrom(ac.body())).isEqualTo(result.build());
  }

  @Test
  void actionResultPutOverHttp_isAGrpcHit() throws Exception {
    var out = "object".getBytes(StandardCharsets.UTF_8);
    http.send(HttpRequest.newBuilder(URI.create(base() + "/cas/" + digest(out).getHash()))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(out)).build(), HttpResponse.BodyHandlers.discarding());
    var result = ActionResult.newBuilder();
    result.addOutputFilesBuilder().setPath("o").setDigest(digest(out));
    var action = digest("http action".getBytes(StandardCharsets.UTF_8));
    http.send(HttpRequest.newBuilder(URI.create(base() + "/ac/" + action.getHash()))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(result.build().toByteArray())).build(),
        HttpResponse.BodyHandlers.discarding());
    var got = ActionCacheGrpc.newBlockingStub(channel).getActionResult(
        GetActionResultRequest.newBuilder().setActionDigest(action).build());
    assertThat(got).isEqualTo(result.build());
  }
}
