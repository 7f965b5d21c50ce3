package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.protobuf.ByteString;
import dev.buckcache.digest.DigestFunction;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What a real server process prints: grpc-java's java.util.logging goes through our format, a
 * client that resets streams is no stack trace, and no log level shows a credential.
 */
class LogHygieneTest {
  /** java.util.logging's SimpleFormatter: "Dec 01, 2026 9:30:00 PM class method", "WARNING: …". */
  static final Pattern JUL_LINE = Pattern.compile(
      "^(SEVERE|WARNING|INFO|CONFIG|FINE|FINER|FINEST): |^[A-Z][a-z]{2} \\d{1,2}, \\d{4} \\d{1,2}:\\d{2}:\\d{2} [AP]M ");
  static final String STATIC_TOKEN = "obs-static-token-5be1c0ffee";
  /** JWT-shaped (three base64url parts), sent as a bearer token the server does not know. */
  static final String JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvYnMtdGVzdCJ9.c2lnbmF0dXJlLW9icy10ZXN0LXNpZw";
  static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;

  private static ManagedChannel channel(ServerProcess server, String token) {
    var headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext()
        .maxInboundMessageSize(64 << 20).intercept(MetadataUtils.newAttachHeadersInterceptor(headers))
        .build();
  }

  private ServerProcess serve(String level, String format) throws Exception {
    var tokens = dir.resolve("tokens.txt");
    Files.writeString(tokens, STATIC_TOKEN + " ci write\n");
    return ServerProcess.serve(Map.of("BUCKCACHE_LOG_LEVEL", level, "BUCKCACHE_LOG_FORMAT", format),
        dir.resolve("data"), "--auth", "static", "--static-token-file", tokens.toString());
  }

  private static byte[] random(int size) {
    var bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return bytes;
  }

  private static int put(ServerProcess server, String path, byte[] body, String token) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(server.http() + path))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).header("Authorization", "Bearer " + token).build();
    return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  /** Starts reads of a large blob and cancels each after its first message (RST_STREAM). */
  private static void cancelReads(ManagedChannel channel, String hash, int size, int times) throws Exception {
    for (int i = 0; i < times; i++) {
      var first = new CountDownLatch(1);
      ByteStreamGrpc.newStub(channel).read(ReadRequest.newBuilder()
          .setResourceName("blobs/" + hash + "/" + size).build(), new ClientResponseObserver<ReadRequest, ReadResponse>() {
            private ClientCallStreamObserver<ReadRequest> call;

            @Override public void beforeStart(ClientCallStreamObserver<ReadRequest> c) { call = c; }
            @Override public void onNext(ReadResponse r) {
              call.cancel("the local run won", null);
              first.countDown();
            }
            @Override public void onError(Throwable t) { first.countDown(); }
            @Override public void onCompleted() { first.countDown(); }
          });
      assertThat(first.await(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  /** An HTTP/2 connection that starts a call and is then reset by the client (TCP RST). */
  private static void resetConnection(ServerProcess server) throws Exception {
    try (var socket = new Socket("127.0.0.1", server.grpcPort())) {
      OutputStream out = socket.getOutputStream();
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // empty SETTINGS
      out.flush();
      socket.getInputStream().read(new byte[64]);
      socket.setSoLinger(true, 0); // close() sends RST
    }
  }

  @Test
  void clientResetsStreamsAndConnections_noJulOutput_oneDebugLineEach() throws Exception {
    var server = serve("DEBUG", "text");
    try {
      int size = 24 << 20;
      var blob = random(size);
      var hash = DigestFunction.SHA256.hash(blob);
      assertThat(put(server, "/cas/" + hash, blob, STATIC_TOKEN)).isEqualTo(200);
      var channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext()
          .flowControlWindow(65535).intercept(MetadataUtils.newAttachHeadersInterceptor(auth())).build();
      try {
        cancelReads(channel, hash, size, 30);
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      for (int i = 0; i < 5; i++) {
        resetConnection(server);
      }
      server.stopAndCheck();
      assertThat(server.output()).noneMatch(l -> JUL_LINE.matcher(l).find())
          // (DEBUG shows other libraries' stack traces, e.g. grpc's "Unable to apply census
          // stats"; a reset must not be one)
          .noneMatch(l -> l.contains("Http2Exception") || l.contains("DefaultHttp2RemoteFlowController")
              || (l.contains("Stream closed before write") && !l.contains("ClientResets")))
          .anyMatch(l -> l.contains("DEBUG ClientResets - client reset"));
    } finally {
      server.close();
    }
  }

  private static Metadata auth() {
    var headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + STATIC_TOKEN);
    return headers;
  }

  @ParameterizedTest
  @CsvSource({"DEBUG,text", "TRACE,text", "TRACE,json"})
  void tokensOnBothProtocols_neverLogged_atAnyLevel(String level, String format) throws Exception {
    var server = serve(level, format);
    try {
      var blob = "a blob sent with a known token".getBytes(StandardCharsets.UTF_8);
      var hash = DigestFunction.SHA256.hash(blob);
      assertThat(put(server, "/cas/" + hash, blob, STATIC_TOKEN)).isEqualTo(200);
      assertThat(put(server, "/cas/" + hash, blob, JWT)).isEqualTo(401);
      var get = HttpRequest.newBuilder(URI.create(server.http() + "/cas/" + hash))
          .header("Authorization", "Bearer " + STATIC_TOKEN).build();
      assertThat(HttpClient.newHttpClient().send(get, HttpResponse.BodyHandlers.ofByteArray()).body()).isEqualTo(blob);
      for (var token : new String[] {STATIC_TOKEN, JWT}) {
        var channel = channel(server, token);
        try {
          var cas = ContentAddressableStorageGrpc.newBlockingStub(channel);
          var digest = Digest.newBuilder().setHash(hash).setSizeBytes(blob.length).build();
          cas.findMissingBlobs(FindMissingBlobsRequest.newBuilder().addBlobDigests(digest).build());
          cas.batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder().addRequests(
              BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest).setData(ByteString.copyFrom(blob))).build());
          ByteStreams.read(channel, hash, blob.length);
        } catch (StatusRuntimeException e) {
          assertThat(token).isEqualTo(JWT); // UNAUTHENTICATED
        } finally {
          channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
      }
      server.stopAndCheck();
      var all = String.join("\n", server.output());
      assertThat(all).contains("buckcache ready").doesNotContain(STATIC_TOKEN).doesNotContain(JWT)
          .doesNotContain(JWT.substring(0, JWT.lastIndexOf('.')));
    } finally {
      server.close();
    }
  }
}
