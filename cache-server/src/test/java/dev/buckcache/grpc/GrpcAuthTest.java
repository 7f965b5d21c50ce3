package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.google.protobuf.ByteString;
import dev.buckcache.auth.StaticTokens;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskSettings;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bearer tokens on gRPC: UNAUTHENTICATED, PERMISSION_DENIED, per-caller update_enabled. */
class GrpcAuthTest {
  @TempDir Path dir;
  private TieredStore store;
  private GrpcFrontEnd server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    var tokens = dir.resolve("tokens");
    Files.writeString(tokens, "r-token laptop read\nw-token ci write\n");
    store = TieredStore.open(new DiskSettings(dir.resolve("store"), 256L << 20, 0.8, true, 1, 1 << 20),
        8L << 20, 1L << 30);
    server = GrpcFrontEnd.builder(new dev.buckcache.config.GrpcConfig(
        new InetSocketAddress("127.0.0.1", 0), 4_000_000), store)
        .digests(CacheContractTest.DIGESTS).callers(dev.buckcache.auth.CallerResolver.deny(
            StaticTokens.load(tokens, null, false), peer -> null), false).start();
    channel = NettyChannelBuilder.forAddress(server.address()).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    store.close();
  }

  static CallCredentials bearer(String token) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        var headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        applier.apply(headers);
      }
    };
  }

  private static Status.Code code(Throwable t) {
    return ((StatusRuntimeException) t).getStatus().getCode();
  }

  private static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  @Test
  void noToken_unauthenticated_healthStillOpen() {
    assertThatThrownBy(() -> ContentAddressableStorageGrpc.newBlockingStub(channel)
        .findMissingBlobs(FindMissingBlobsRequest.getDefaultInstance()))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.UNAUTHENTICATED))
        .hasMessageContaining("missing credentials");
    assertThatThrownBy(() -> ContentAddressableStorageGrpc.newBlockingStub(channel)
        .withCallCredentials(bearer("forged")).findMissingBlobs(FindMissingBlobsRequest.getDefaultInstance()))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThat(io.grpc.health.v1.HealthGrpc.newBlockingStub(channel)
        .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance()).getStatus())
        .isEqualTo(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
  }

  @Test
  void readToken_buck2Probe_permissionDenied_butCasUploadsWork() {
    var caps = CapabilitiesGrpc.newBlockingStub(channel);
    assertThat(caps.withCallCredentials(bearer("r-token")).getCapabilities(
        GetCapabilitiesRequest.getDefaultInstance()).getCacheCapabilities()
        .getActionCacheUpdateCapabilities().getUpdateEnabled()).isFalse();
    assertThat(caps.withCallCredentials(bearer("w-token")).getCapabilities(
        GetCapabilitiesRequest.getDefaultInstance()).getCacheCapabilities()
        .getActionCacheUpdateCapabilities().getUpdateEnabled()).isTrue();

    var action = "empty action".getBytes(StandardCharsets.UTF_8);
    var upload = ContentAddressableStorageGrpc.newBlockingStub(channel).withCallCredentials(bearer("r-token"))
        .batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder().addRequests(
            BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest(action))
                .setData(ByteString.copyFrom(action))).build());
    assertThat(upload.getResponses(0).getStatus().getCode()).isZero();
    var probe = UpdateActionResultRequest.newBuilder().setActionDigest(digest(action))
        .setActionResult(ActionResult.newBuilder()
            .setExecutionMetadata(ExecutedActionMetadata.getDefaultInstance())).build();
    assertThatThrownBy(() -> ActionCacheGrpc.newBlockingStub(channel)
        .withCallCredentials(bearer("r-token")).updateActionResult(probe))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.PERMISSION_DENIED))
        .hasMessageContaining("scope read");
    assertThat(ActionCacheGrpc.newBlockingStub(channel).withCallCredentials(bearer("w-token"))
        .updateActionResult(probe).hasExecutionMetadata()).isTrue();
  }
}
