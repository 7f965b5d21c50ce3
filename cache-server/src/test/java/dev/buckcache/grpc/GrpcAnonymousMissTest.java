package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.GetTreeRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.github.benmanes.caffeine.cache.Ticker;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import dev.buckcache.auth.CallerResolver;
import dev.buckcache.auth.TestTokens;
import dev.buckcache.config.AuthConfig.Anonymous;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.metrics.CacheMetrics;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskAudit;
import dev.buckcache.storage.disk.DiskSettings;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * auth.anonymous miss over gRPC (the real Netty server, a real store): a caller with no, an
 * expired, a forged or a revoked token sees an empty read-only cache, whatever is stored.
 */
class GrpcAnonymousMissTest {
  @TempDir Path dir;
  private TieredStore store;
  private GrpcFrontEnd server;
  private final dev.buckcache.storage.StorageExecutor executor =
      new dev.buckcache.storage.StorageExecutor(4, 1000, 256L << 20);
  private ManagedChannel channel;
  private TestTokens tokens;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<String> warnings = new ArrayList<>();

  private final byte[] blob = "stored output".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  private final byte[] fresh = "uploaded by an anonymous caller".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  private final Directory tree = Directory.newBuilder().addFiles(
      build.bazel.remote.execution.v2.FileNode.newBuilder().setName("out").setDigest(digest(blob))).build();
  private final Digest action = digest("the action".getBytes(java.nio.charset.StandardCharsets.UTF_8));

  @BeforeEach
  void start() throws Exception {
    tokens = new TestTokens(dir);
    store = TieredStore.open(new DiskSettings(dir.resolve("store"), 256L << 20, 0.8, true, 1, 1 << 20),
        8L << 20, 1L << 30);
    var results = new ActionResults(store, store);
    var metrics = new CacheMetrics(registry, store, results);
    var callers = new CallerResolver(tokens.authenticator, Anonymous.MISS, peer -> null,
        (protocol, reason) -> metrics.authFailure(protocol, reason.name()), Ticker.systemTicker(),
        warnings::add);
    server = GrpcFrontEnd.builder(new dev.buckcache.config.GrpcConfig(
        new InetSocketAddress("127.0.0.1", 0), 4_000_000), store).executor(executor)
        .results(results).digests(CacheContractTest.DIGESTS).callers(callers, false)
        .metrics(metrics).start();
    channel = NettyChannelBuilder.forAddress(server.address()).usePlaintext().build();
    fill();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    executor.close();
    var report = DiskAudit.run(store.disk());
    store.close();
    assertThat(report.problems()).isEmpty();
  }

  private static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  private static CallCredentials as(String token) {
    return token == null ? null : GrpcAuthTest.bearer(token);
  }

  private ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas(String token) {
    return ContentAddressableStorageGrpc.newBlockingStub(channel).withCallCredentials(as(token));
  }

  private ActionCacheGrpc.ActionCacheBlockingStub ac(String token) {
    return ActionCacheGrpc.newBlockingStub(channel).withCallCredentials(as(token));
  }

  private BatchUpdateBlobsRequest upload(byte[]... blobs) {
    var req = BatchUpdateBlobsRequest.newBuilder();
    for (var b : blobs) {
      req.addRequestsBuilder().setDigest(digest(b)).setData(ByteString.copyFrom(b));
    }
    return req.build();
  }

  private UpdateActionResultRequest update(Digest key) {
    var result = ActionResult.newBuilder().setExecutionMetadata(ExecutedActionMetadata.getDefaultInstance());
    result.addOutputFilesBuilder().setPath("out").setDigest(digest(blob));
    return UpdateActionResultRequest.newBuilder().setActionDigest(key).setActionResult(result).build();
  }

  /** What a CI build with a write token leaves behind: a blob, a Directory, an action result. */
  private void fill() {
    cas(tokens.write).batchUpdateBlobs(upload(blob, tree.toByteArray())).getResponsesList()
        .forEach(r -> assertThat(r.getStatus().getCode()).isZero());
    ac(tokens.write).updateActionResult(update(action));
    assertThat(ac(tokens.write).getActionResult(GetActionResultRequest.newBuilder()
        .setActionDigest(action).build()).getOutputFilesCount()).isEqualTo(1);
  }

  /** A call whose answer the test does not need, only its failure. */
  private interface Call {
    Object run();
  }

  private static void fails(Call call, Status.Code code, String reason) {
    assertThatThrownBy(call::run).isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getCode()).isEqualTo(code))
        .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getDescription())
            .startsWith(reason).endsWith("(served as an anonymous cache miss)"));
  }

  private WriteResponse write(String token, byte[] data) throws Exception {
    var done = new CompletableFuture<WriteResponse>();
    var stream = ByteStreamGrpc.newStub(channel).withCallCredentials(as(token)).write(new StreamObserver<>() {
      @Override public void onNext(WriteResponse v) { done.complete(v); }
      @Override public void onError(Throwable t) { done.completeExceptionally(t); }
      @Override public void onCompleted() {}
    });
    stream.onNext(WriteRequest.newBuilder().setResourceName("uploads/" + UUID.randomUUID() + "/blobs/"
        + digest(data).getHash() + "/" + data.length).setFinishWrite(true)
        .setData(ByteString.copyFrom(data)).build());
    stream.onCompleted();
    try {
      return done.get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw (RuntimeException) e.getCause();
    }
  }

  @Test
  void unusableTokens_seeAnEmptyReadOnlyCache_onEveryCall() {
    for (var entry : tokens.unusable().entrySet()) {
      var token = entry.getValue()[0];
      var reason = entry.getValue()[1];
      var caps = CapabilitiesGrpc.newBlockingStub(channel).withCallCredentials(as(token))
          .getCapabilities(GetCapabilitiesRequest.getDefaultInstance()).getCacheCapabilities();
      assertThat(caps.getActionCacheUpdateCapabilities().getUpdateEnabled()).as(entry.getKey()).isFalse();
      assertThat(caps.getMaxBatchTotalSizeBytes()).isEqualTo(4_000_000);

      fails(() -> ac(token).getActionResult(GetActionResultRequest.newBuilder()
          .setActionDigest(action).build()), Status.Code.NOT_FOUND, reason);
      var stored = List.of(digest(blob), digest(tree.toByteArray()));
      assertThat(cas(token).findMissingBlobs(FindMissingBlobsRequest.newBuilder()
          .addAllBlobDigests(stored).build()).getMissingBlobDigestsList()).as(entry.getKey())
          .containsExactlyElementsOf(stored);
      var read = cas(token).batchReadBlobs(BatchReadBlobsRequest.newBuilder()
          .addAllDigests(stored).build());
      assertThat(read.getResponsesList()).hasSize(2).allSatisfy(r -> {
        assertThat(r.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND.value());
        assertThat(r.getStatus().getMessage()).startsWith(reason);
        assertThat(r.getData().isEmpty()).isTrue();
      });
      fails(() -> ByteStreamGrpc.newBlockingStub(channel).withCallCredentials(as(token))
          .read(ReadRequest.newBuilder().setResourceName("blobs/" + digest(blob).getHash() + "/"
              + blob.length).build()).hasNext(), Status.Code.NOT_FOUND, reason);
      fails(() -> cas(token).getTree(GetTreeRequest.newBuilder()
          .setRootDigest(digest(tree.toByteArray())).build()).hasNext(), Status.Code.NOT_FOUND, reason);
      fails(() -> ByteStreamGrpc.newBlockingStub(channel).withCallCredentials(as(token))
          .queryWriteStatus(QueryWriteStatusRequest.newBuilder().setResourceName("uploads/"
              + UUID.randomUUID() + "/blobs/" + digest(blob).getHash() + "/" + blob.length).build()),
          Status.Code.NOT_FOUND, reason);

      fails(() -> ac(token).updateActionResult(update(digest(fresh))), Status.Code.PERMISSION_DENIED, reason);
      fails(() -> cas(token).batchUpdateBlobs(upload(fresh)), Status.Code.PERMISSION_DENIED, reason);
      fails(() -> {
        try {
          return write(token, fresh);
        } catch (RuntimeException e) {
          throw e;
        } catch (Exception e) {
          throw new AssertionError(e);
        }
      }, Status.Code.PERMISSION_DENIED, reason);
    }
    // Nothing the anonymous callers sent was stored; what CI stored is still served to CI.
    assertThat(cas(tokens.write).findMissingBlobs(FindMissingBlobsRequest.newBuilder()
        .addBlobDigests(digest(fresh)).addBlobDigests(digest(blob)).build())
        .getMissingBlobDigestsList()).containsExactly(digest(fresh));
    assertThatThrownBy(() -> ac(tokens.write).getActionResult(GetActionResultRequest.newBuilder()
        .setActionDigest(digest(fresh)).build())).hasMessageContaining("NOT_FOUND");
    assertThat(ac(tokens.write).getActionResult(GetActionResultRequest.newBuilder()
        .setActionDigest(action).build()).getOutputFilesCount()).isEqualTo(1);
  }

  @Test
  void unusableTokens_areCountedByReason_andWarnedOncePerToken() {
    for (int i = 0; i < 3; i++) {
      for (var token : new String[] {null, tokens.expired}) {
        assertThat(cas(token).findMissingBlobs(FindMissingBlobsRequest.newBuilder()
            .addBlobDigests(digest(blob)).build()).getMissingBlobDigestsCount()).isEqualTo(1);
      }
    }
    assertThat(registry.get("buckcache.auth.failures").tag("protocol", "grpc").tag("reason", "missing")
        .counter().count()).isEqualTo(3);
    assertThat(registry.get("buckcache.auth.failures").tag("protocol", "grpc").tag("reason", "expired")
        .counter().count()).isEqualTo(3);
    assertThat(warnings).hasSize(2);
    assertThat(warnings.get(0)).startsWith("grpc caller at 127.0.0.1: no token: ");
    assertThat(warnings.get(1)).startsWith("grpc caller at 127.0.0.1: token expired at "
        + TestTokens.EXPIRED_AT).doesNotContain(tokens.expired);
  }

  @Test
  void readAndWriteTokens_unchanged() {
    var caps = CapabilitiesGrpc.newBlockingStub(channel);
    assertThat(caps.withCallCredentials(as(tokens.read)).getCapabilities(GetCapabilitiesRequest
        .getDefaultInstance()).getCacheCapabilities().getActionCacheUpdateCapabilities()
        .getUpdateEnabled()).isFalse();
    assertThat(caps.withCallCredentials(as(tokens.write)).getCapabilities(GetCapabilitiesRequest
        .getDefaultInstance()).getCacheCapabilities().getActionCacheUpdateCapabilities()
        .getUpdateEnabled()).isTrue();
    assertThat(cas(tokens.read).findMissingBlobs(FindMissingBlobsRequest.newBuilder()
        .addBlobDigests(digest(blob)).build()).getMissingBlobDigestsCount()).isZero();
    assertThatThrownBy(() -> ac(tokens.read).updateActionResult(update(digest(fresh))))
        .hasMessageContaining("PERMISSION_DENIED").hasMessageContaining("scope read");
    assertThat(cas(tokens.read).batchUpdateBlobs(upload(fresh)).getResponses(0).getStatus().getCode()).isZero();
  }
}
