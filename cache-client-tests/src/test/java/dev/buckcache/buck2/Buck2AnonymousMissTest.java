package dev.buckcache.buck2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import dev.buckcache.process.ServerProcess;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Buck2's call pattern without a usable token against {@code serve --auth jwt --anonymous miss}:
 * no token, and a token that has expired (issued by the real CLI with a one-second TTL). What
 * a CI build with a write token stored stays hidden; every call answers at once with a status
 * Buck2 turns into "run it locally": capabilities without updates, the permission probe
 * PERMISSION_DENIED, lookups NOT_FOUND, FindMissing all missing.
 */
class Buck2AnonymousMissTest {
  @TempDir static Path dir;
  static ServerProcess server;
  static String writeToken;
  static String expiredToken;
  static String expiredAt;
  static final byte[] OUTPUT = "a build output".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  static final Digest ACTION = Buck2PatternTest.digest("an action".getBytes(java.nio.charset.StandardCharsets.UTF_8));
  static final List<Digest> STORED = new ArrayList<>();

  static String cli(String... args) throws Exception {
    return ServerProcess.cli(args);
  }

  @BeforeAll
  static void start() throws Exception {
    var keys = dir.resolve("keys");
    cli("keygen", "--out", keys.toString());
    writeToken = cli("token", "issue", "--key", keys.resolve("signing-key.pem").toString(),
        "--subject", "ci", "--scope", "write", "--ttl", "1h");
    expiredToken = cli("token", "issue", "--key", keys.resolve("signing-key.pem").toString(),
        "--subject", "laptop", "--scope", "read", "--ttl", "1s");
    var exp = expiry(expiredToken);
    expiredAt = exp.toString();
    server = ServerProcess.serve(dir.resolve("data"), "--auth", "jwt", "--jwt-public-key",
        keys.resolve("verify-key.pem").toString(), "--anonymous", "miss");
    assertThat(server.awaitLine("buckcache ready", Duration.ofSeconds(5)))
        .contains("auth jwt, anonymous miss");
    fill();
    for (int i = 0; i < 50 && !Instant.now().isAfter(exp); i++) {
      Thread.sleep(100); // a one-second token, issued before the server started, has expired by now
    }
    assertThat(Instant.now()).isAfter(exp);
  }

  /** The exp claim, read from the token's payload (no JWT library here: the CLI made it). */
  private static Instant expiry(String token) {
    var payload = new String(java.util.Base64.getUrlDecoder().decode(token.split("\\.", -1)[1]),
        java.nio.charset.StandardCharsets.UTF_8);
    var m = java.util.regex.Pattern.compile("\"exp\":(\\d+)").matcher(payload);
    assertThat(m.find()).as(payload).isTrue();
    return Instant.ofEpochSecond(Long.parseLong(m.group(1)));
  }

  /** A CI build: the probe, an output blob, an action result naming it. */
  private static void fill() {
    var ci = Buck2Client.channel("127.0.0.1", server.grpcPort(), writeToken);
    try {
      Buck2Access.probe(ci);
      var upload = BatchUpdateBlobsRequest.newBuilder();
      upload.addRequestsBuilder().setDigest(Buck2PatternTest.digest(OUTPUT)).setData(ByteString.copyFrom(OUTPUT));
      ContentAddressableStorageGrpc.newBlockingStub(ci).batchUpdateBlobs(upload.build()).getResponsesList()
          .forEach(r -> assertThat(r.getStatus().getCode()).isZero());
      var result = ActionResult.newBuilder().setExecutionMetadata(ExecutedActionMetadata.getDefaultInstance());
      result.addOutputFilesBuilder().setPath("out/a").setDigest(Buck2PatternTest.digest(OUTPUT));
      ActionCacheGrpc.newBlockingStub(ci).updateActionResult(UpdateActionResultRequest.newBuilder()
          .setActionDigest(ACTION).setActionResult(result).build());
      STORED.add(Buck2PatternTest.digest(OUTPUT));
      assertThat(ContentAddressableStorageGrpc.newBlockingStub(ci).findMissingBlobs(
          FindMissingBlobsRequest.newBuilder().addAllBlobDigests(STORED).build())
          .getMissingBlobDigestsList()).isEmpty();
      assertThat(ActionCacheGrpc.newBlockingStub(ci).getActionResult(GetActionResultRequest
          .newBuilder().setActionDigest(ACTION).build()).getOutputFilesCount()).isEqualTo(1);
    } finally {
      ci.shutdownNow();
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.stopAndCheck();
      assertThat(String.join("\n", server.output())).doesNotContain(writeToken).doesNotContain(expiredToken);
    }
  }

  private static String token(String kind) {
    return kind.equals("expired") ? expiredToken : null;
  }

  private static String reason(String kind) {
    return kind.equals("expired")
        ? "token expired at " + expiredAt + ": get a new one with `buckcache token issue`"
        : "no token: get a token with `buckcache token issue`";
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

  @ParameterizedTest
  @ValueSource(strings = {"none", "expired"})
  void buck2Pattern_withoutAUsableToken_isAnEmptyReadOnlyCache(String kind) throws Exception {
    var channel = Buck2Client.channel("127.0.0.1", server.grpcPort(), token(kind));
    var reason = reason(kind);
    try {
      var caps = CapabilitiesGrpc.newBlockingStub(channel)
          .getCapabilities(GetCapabilitiesRequest.getDefaultInstance()).getCacheCapabilities();
      assertThat(caps.getActionCacheUpdateCapabilities().getUpdateEnabled()).isFalse();
      assertThat(caps.getMaxBatchTotalSizeBytes()).isEqualTo(Buck2Client.BUCK2_BATCH_LIMIT);

      fails(() -> {
        Buck2Access.probe(channel);
        return null;
      }, Status.Code.PERMISSION_DENIED, reason);
      // Buck2 sends only instance_name and action_digest.
      fails(() -> ActionCacheGrpc.newBlockingStub(channel).getActionResult(
          GetActionResultRequest.newBuilder().setActionDigest(ACTION).build()), Status.Code.NOT_FOUND, reason);
      fails(() -> ActionCacheGrpc.newBlockingStub(channel).updateActionResult(UpdateActionResultRequest
          .newBuilder().setActionDigest(ACTION).setActionResult(ActionResult.newBuilder()
              .setExecutionMetadata(ExecutedActionMetadata.getDefaultInstance())).build()),
          Status.Code.PERMISSION_DENIED, reason);

      var hundred = new ArrayList<>(STORED);
      for (int i = hundred.size(); i < 100; i++) {
        hundred.add(Buck2PatternTest.digest(("input " + i).getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      }
      var cas = ContentAddressableStorageGrpc.newBlockingStub(channel);
      assertThat(cas.findMissingBlobs(FindMissingBlobsRequest.newBuilder().addAllBlobDigests(hundred)
          .build()).getMissingBlobDigestsList()).containsExactlyElementsOf(hundred);
      var read = cas.batchReadBlobs(BatchReadBlobsRequest.newBuilder().addAllDigests(STORED).build());
      assertThat(read.getResponsesList()).hasSize(STORED.size()).allSatisfy(r -> {
        assertThat(r.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND.value());
        assertThat(r.getData().isEmpty()).isTrue();
      });
      fails(() -> ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
          .setResourceName("blobs/" + STORED.get(0).getHash() + "/" + STORED.get(0).getSizeBytes())
          .build()).hasNext(), Status.Code.NOT_FOUND, reason);
      fails(() -> write(channel, "a local output".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
          Status.Code.PERMISSION_DENIED, reason);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static WriteResponse write(ManagedChannel channel, byte[] data) {
    var done = new CompletableFuture<WriteResponse>();
    var stream = ByteStreamGrpc.newStub(channel).write(new StreamObserver<>() {
      @Override public void onNext(WriteResponse v) { done.complete(v); }
      @Override public void onError(Throwable t) { done.completeExceptionally(t); }
      @Override public void onCompleted() {}
    });
    stream.onNext(WriteRequest.newBuilder().setResourceName("uploads/" + UUID.randomUUID() + "/blobs/"
        + Buck2PatternTest.digest(data).getHash() + "/" + data.length).setFinishWrite(true)
        .setData(ByteString.copyFrom(data)).build());
    stream.onCompleted();
    try {
      return done.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw (RuntimeException) e.getCause();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void manyCalls_countedByReason_warnedOncePerTokenAMinute() throws Exception {
    for (var kind : List.of("none", "expired")) {
      var channel = Buck2Client.channel("127.0.0.1", server.grpcPort(), token(kind));
      try {
        for (int i = 0; i < 20; i++) {
          fails(() -> ActionCacheGrpc.newBlockingStub(channel).getActionResult(
              GetActionResultRequest.newBuilder().setActionDigest(ACTION).build()),
              Status.Code.NOT_FOUND, reason(kind));
        }
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    var log = server.output();
    var expired = log.stream().filter(l -> l.contains("WARN") && l.contains("token expired at " + expiredAt)).toList();
    var none = log.stream().filter(l -> l.contains("WARN") && l.contains("grpc caller at 127.0.0.1: no token")).toList();
    // Once a minute per token (or per host without one); a slow run may cross one minute.
    assertThat(expired).hasSizeBetween(1, 2);
    assertThat(none).hasSizeBetween(1, 2);
    var metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.http() + "/metrics"))
        .build(), HttpResponse.BodyHandlers.ofString()).body();
    assertThat(counter(metrics, "expired")).isGreaterThanOrEqualTo(20);
    assertThat(counter(metrics, "missing")).isGreaterThanOrEqualTo(20);
  }

  private static double counter(String metrics, String reason) {
    var m = java.util.regex.Pattern.compile("^buckcache_auth_failures_total\\{protocol=\"grpc\",reason=\""
        + reason + "\"} ([0-9.eE+]+)$", java.util.regex.Pattern.MULTILINE).matcher(metrics);
    assertThat(m.find()).as(metrics).isTrue();
    return Double.parseDouble(m.group(1));
  }
}
