package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.digest.DigestFunction;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** gRPC calls show their instance, real bytes, rejected items and cancellations. */
class GrpcObservabilityTest {
  private static final int MIB = 1 << 20;

  @TempDir Path dir;
  private BuckcacheServer server;
  private ManagedChannel channel;
  private final ListAppender<ILoggingEvent> access = new ListAppender<>();
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() {
    access.start();
    ((Logger) LoggerFactory.getLogger("buckcache.access")).addAppender(access);
    var config = new ConfigLoader(Map.of(), 4L << 30).load(null, Map.of(
        "storage.dir", dir.toString(), "storage.max_size", "128MB", "storage.memory_size", "8MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0", "server.access_log", "true"));
    server = BuckcacheServer.start(config);
    channel = NettyChannelBuilder.forAddress(server.grpcAddress()).usePlaintext()
        .maxInboundMessageSize(64 << 20).build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    ((Logger) LoggerFactory.getLogger("buckcache.access")).detachAppender(access);
  }

  private List<String> lines(String rpc) {
    return access.list.stream().map(ILoggingEvent::getFormattedMessage)
        .filter(l -> l.startsWith("grpc " + rpc + " ")).toList();
  }

  private String scrape() throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + server.httpAddress().getPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  private static double value(String scrape, String series) {
    var m = Pattern.compile("^" + Pattern.quote(series) + " ([0-9.eE+-]+)$", Pattern.MULTILINE).matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  private static byte[] random(int size) {
    var bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return bytes;
  }

  private WriteResponse write(String resource, byte[] blob) throws Exception {
    var done = new CompletableFuture<WriteResponse>();
    var requests = ByteStreamGrpc.newStub(channel).write(new StreamObserver<>() {
      @Override public void onNext(WriteResponse r) { done.complete(r); }
      @Override public void onError(Throwable t) { done.completeExceptionally(t); }
      @Override public void onCompleted() {}
    });
    for (int off = 0; off < blob.length; off += MIB) {
      int n = Math.min(MIB, blob.length - off);
      var req = WriteRequest.newBuilder().setWriteOffset(off).setFinishWrite(off + n == blob.length)
          .setData(ByteString.copyFrom(blob, off, n));
      if (off == 0) {
        req.setResourceName(resource);
      }
      requests.onNext(req.build());
    }
    requests.onCompleted();
    return done.get(30, TimeUnit.SECONDS);
  }

  @Test
  void byteStreamWriteAndRead_logInstanceAndRealBytes_andCountGrpcBytes() throws Exception {
    var blob = random(5 * MIB);
    var hash = DigestFunction.SHA256.hash(blob);
    write("main/uploads/0b5d3f7e-1c2a-4d7e-9f00-aa11bb22cc33/blobs/" + hash + "/" + blob.length, blob);
    long read = 0;
    var it = ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
        .setResourceName("main/blobs/" + hash + "/" + blob.length).build());
    while (it.hasNext()) {
      read += it.next().getData().size();
    }
    assertThat(read).isEqualTo(blob.length);

    assertThat(lines("Write")).singleElement().asString().contains(" cas " + hash + " OK ")
        .contains("instance=main").matches(".* in=(\\d{7,}) out=\\d+ .*");
    var in = Long.parseLong(lines("Write").get(0).replaceAll(".* in=(\\d+) .*", "$1"));
    assertThat(in).isGreaterThanOrEqualTo(blob.length);
    var readLine = lines("Read");
    assertThat(readLine).singleElement().asString().contains("instance=main");
    var out = Long.parseLong(readLine.get(0).replaceAll(".* out=(\\d+) .*", "$1"));
    assertThat(out).isGreaterThanOrEqualTo(blob.length);
    var s = scrape();
    assertThat(value(s, "buckcache_transferred_bytes_total{direction=\"in\",protocol=\"grpc\"}"))
        .isGreaterThanOrEqualTo(blob.length);
    assertThat(value(s, "buckcache_transferred_bytes_total{direction=\"out\",protocol=\"grpc\"}"))
        .isGreaterThanOrEqualTo(blob.length);
  }

  @Test
  void batchUpdateWithMismatchedItems_logsRejectedCount_andIsNotCountedOk() throws Exception {
    var batch = BatchUpdateBlobsRequest.newBuilder().setInstanceName("ci");
    var good = "good".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    batch.addRequestsBuilder().setData(ByteString.copyFrom(good)).setDigest(Digest.newBuilder()
        .setHash(DigestFunction.SHA256.hash(good)).setSizeBytes(good.length));
    for (int i = 0; i < 3; i++) {
      batch.addRequestsBuilder().setData(ByteString.copyFromUtf8("bad" + i)).setDigest(
          Digest.newBuilder().setHash(Integer.toString(i).repeat(64)).setSizeBytes(4));
    }
    var response = ContentAddressableStorageGrpc.newBlockingStub(channel).batchUpdateBlobs(batch.build());
    assertThat(response.getResponsesList()).filteredOn(r -> r.getStatus().getCode() != 0).hasSize(3);

    assertThat(lines("BatchUpdateBlobs")).singleElement().asString().contains("rejected=3")
        .contains("instance=ci");
    var s = scrape();
    assertThat(value(s, "buckcache_requests_total{kind=\"cas\",method=\"BatchUpdateBlobs\",protocol=\"grpc\",result=\"ok\"}"))
        .isZero();
    assertThat(value(s, "buckcache_requests_total{kind=\"cas\",method=\"BatchUpdateBlobs\",protocol=\"grpc\",result=\"client_error\"}"))
        .isEqualTo(1);
  }

  @Test
  void clientCancelsWrite_isLoggedAndCountedOnceAsCancelled() throws Exception {
    var blob = random(3 * MIB);
    var hash = DigestFunction.SHA256.hash(blob);
    var started = new CompletableFuture<ClientCallStreamObserver<WriteRequest>>();
    var requests = ByteStreamGrpc.newStub(channel).write(new ClientResponseObserver<WriteRequest, WriteResponse>() {
      @Override public void beforeStart(ClientCallStreamObserver<WriteRequest> call) { started.complete(call); }
      @Override public void onNext(WriteResponse r) {}
      @Override public void onError(Throwable t) {}
      @Override public void onCompleted() {}
    });
    requests.onNext(WriteRequest.newBuilder().setResourceName("uploads/u1/blobs/" + hash + "/" + blob.length)
        .setData(ByteString.copyFrom(blob, 0, MIB)).build());
    // The server has the first chunk once QueryWriteStatus cannot tell (the upload is live);
    // a unary round trip on the same connection orders it after the chunk.
    ContentAddressableStorageGrpc.newBlockingStub(channel).findMissingBlobs(
        build.bazel.remote.execution.v2.FindMissingBlobsRequest.getDefaultInstance());
    started.get(5, TimeUnit.SECONDS).cancel("the local run won", null);

    String series = "buckcache_requests_total{kind=\"cas\",method=\"Write\",protocol=\"grpc\",result=\"cancelled\"}";
    for (int i = 0; i < 200 && value(scrape(), series) == 0; i++) {
      Thread.sleep(25);
    }
    assertThat(value(scrape(), series)).isEqualTo(1);
    assertThat(lines("Write")).singleElement().asString().contains(" CANCELLED ");
  }
  @Test
  void blake3ContentUnderDefaultSha256Instance_bothProtocolsHintAtDigestInstances() throws Exception {
    var blob = "built by a BLAKE3 Buck2".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    var blake3 = DigestFunction.BLAKE3.hash(blob);
    var batch = BatchUpdateBlobsRequest.newBuilder();
    batch.addRequestsBuilder().setData(ByteString.copyFrom(blob))
        .setDigest(Digest.newBuilder().setHash(blake3).setSizeBytes(blob.length));
    var item = ContentAddressableStorageGrpc.newBlockingStub(channel).batchUpdateBlobs(batch.build())
        .getResponses(0).getStatus();
    assertThat(item.getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT.value());
    assertThat(item.getMessage()).contains("it does hash to that under BLAKE3")
        .contains("--digest-instances NAME=blake3");

    var put = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + server.httpAddress().getPort() + "/cas/" + blake3))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(put.statusCode()).isEqualTo(400);
    assertThat(put.body()).contains("under SHA-256").contains("--digest-instances NAME=blake3");
  }
}
