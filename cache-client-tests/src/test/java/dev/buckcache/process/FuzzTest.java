package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.GetTreeRequest;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import dev.buckcache.digest.DigestFunction;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random and mutated input against a real server process running Netty's paranoid leak
 * detector: 6,000 HTTP requests, 3,000 gRPC messages, 2,000 ByteStream resource names. No
 * client error may get a 5xx or INTERNAL/UNKNOWN, nothing may leak, and the server must serve
 * normally afterwards. Seeded: a failure names the seed and case that reproduce it.
 */
class FuzzTest {
  static final long SEED = Long.getLong("buckcache.fuzz.seed", 20261129L);
  static final Set<Status.Code> SERVER_FAULTS = Set.of(Status.Code.UNKNOWN, Status.Code.INTERNAL,
      Status.Code.DATA_LOSS, Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED,
      Status.Code.UNIMPLEMENTED);
  static final Pattern STATUS = Pattern.compile("HTTP/1\\.1 (\\d{3})");

  @TempDir static Path dir;
  static ServerProcess server;
  static int httpPort;
  static ManagedChannel channel;
  static final byte[] BLOB = "fuzz me".getBytes(StandardCharsets.UTF_8);
  static final String HASH = DigestFunction.SHA256.hash(BLOB);

  @BeforeAll
  static void start() throws Exception {
    server = ServerProcess.serve(dir.resolve("data"), "--max-blob-size", "1MB");
    httpPort = URI.create(server.http()).getPort();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext()
        .maxInboundMessageSize(64 << 20).build();
    var put = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/" + HASH))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(BLOB)).build(), HttpResponse.BodyHandlers.discarding());
    assertThat(put.statusCode()).isEqualTo(200);
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      try (var s = server) {
        // After everything: still healthy, the stored blob intact, no 5xx counted, no leak.
        var http = HttpClient.newHttpClient();
        assertThat(http.send(HttpRequest.newBuilder(URI.create(s.http() + "/cas/" + HASH)).build(),
            HttpResponse.BodyHandlers.ofByteArray()).body()).isEqualTo(BLOB);
        var metrics = http.send(HttpRequest.newBuilder(URI.create(s.http() + "/metrics")).build(),
            HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).doesNotContainPattern("result=\"server_error\"[^\\n]*\\} [1-9]");
        assertSeriesBounded(metrics);
        s.stopAndCheck();
      }
    }
  }

  /** Fuzzed methods and paths must not make series: every tag value is one the server chose. */
  static void assertSeriesBounded(String metrics) {
    var series = metrics.lines().filter(l -> l.startsWith("buckcache_")).toList();
    var methods = new java.util.TreeSet<String>();
    var m = Pattern.compile("method=\"([^\"]*)\"").matcher(metrics);
    while (m.find()) {
      methods.add(m.group(1));
    }
    assertThat(methods).isSubsetOf("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH",
        "TRACE", "CONNECT", "other", "GetCapabilities", "FindMissingBlobs", "BatchUpdateBlobs",
        "BatchReadBlobs", "GetTree", "GetActionResult", "UpdateActionResult", "Read", "Write",
        "QueryWriteStatus", "Check", "Watch", "ServerReflectionInfo");
    // 2 protocols x 3 kinds x ~30 methods x 8 results is the ceiling; fuzzing reaches far less.
    assertThat(series).as("buckcache series after fuzzing").hasSizeLessThan(1000);
    System.out.println("fuzz: " + series.size() + " buckcache series, methods " + methods);
  }

  // ---------------------------------------------------------------- HTTP

  static final List<String> TEMPLATES = List.of(
      "GET /cas/" + HASH + " HTTP/1.1\r\nHost: c\r\n\r\n",
      "HEAD /cas/" + HASH + " HTTP/1.1\r\nHost: c\r\n\r\n",
      "GET /ac/" + HASH + " HTTP/1.1\r\nHost: c\r\nAccept: application/json\r\n\r\n",
      "GET /main/cas/" + HASH + " HTTP/1.1\r\nHost: c\r\nAccept-Encoding: zstd\r\n\r\n",
      "PUT /cas/" + HASH + " HTTP/1.1\r\nHost: c\r\nContent-Length: 7\r\n\r\nfuzz me",
      "PUT /ac/" + HASH + " HTTP/1.1\r\nHost: c\r\nContent-Length: 7\r\n\r\nfuzz me",
      "PUT /cas/" + HASH + " HTTP/1.1\r\nHost: c\r\nContent-Encoding: zstd\r\nContent-Length: 7\r\n\r\nfuzz me",
      "PUT /cas/" + HASH + " HTTP/1.1\r\nHost: c\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\nfuzz me",
      "PUT /cas/" + HASH + " HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nfuzz me\r\n0\r\n\r\n",
      "GET /status HTTP/1.1\r\nHost: c\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nHost: c\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: c\r\n\r\n",
      "DELETE /cas/" + HASH + " HTTP/1.1\r\nHost: c\r\n\r\n",
      "GET /cas/" + HASH + " HTTP/1.1\r\nHost: c\r\n\r\nGET /ac/" + HASH + " HTTP/1.1\r\nHost: c\r\n\r\n");
  static final String[] TOKENS = {"/", "..", "%", "%2e", "%00", "\r\n", "\n", " ", "\t", ":", "?",
      "#", "cas", "ac", "blobs", "Content-Length: ", "-1", "99999999999999999999", "0", "zstd",
      "Transfer-Encoding: chunked\r\n", "\u00ff", "HTTP/1.0", "HTTP/2.0", "ffffffff\r\n", "\0"};

  @Test
  void http_6000RandomAndMutatedRequests_noServerError() throws Exception {
    var random = new Random(SEED);
    var seen = new TreeMap<String, Integer>();
    for (int i = 0; i < 6000; i++) {
      var request = i % 10 == 0 ? randomBytes(random) : mutate(random,
          TEMPLATES.get(random.nextInt(TEMPLATES.size())).getBytes(StandardCharsets.ISO_8859_1));
      var reply = exchange(request);
      var m = STATUS.matcher(reply);
      while (m.find()) {
        seen.merge(m.group(1), 1, Integer::sum);
        assertThat(Integer.parseInt(m.group(1))).as("case %d (seed %d): %s%n-> %s", i, SEED,
            printable(request), reply).isLessThan(500);
      }
    }
    System.out.println("http fuzz: 6000 cases, statuses " + seen);
    assertThat(seen).containsKeys("200", "400", "404");
  }

  static byte[] randomBytes(Random random) {
    var b = new byte[random.nextInt(600)];
    random.nextBytes(b);
    return b;
  }

  /** One to four edits: flip, insert a token, delete a span, duplicate a span, truncate. */
  static byte[] mutate(Random random, byte[] input) {
    var out = new ByteArrayOutputStream();
    out.writeBytes(input);
    byte[] b = out.toByteArray();
    int edits = 1 + random.nextInt(4);
    for (int e = 0; e < edits && b.length > 0; e++) {
      int at = random.nextInt(b.length);
      var next = new ByteArrayOutputStream();
      switch (random.nextInt(5)) {
        case 0 -> {
          b[at] = (byte) random.nextInt(256);
          continue;
        }
        case 1 -> {
          next.write(b, 0, at);
          next.writeBytes(TOKENS[random.nextInt(TOKENS.length)].getBytes(StandardCharsets.ISO_8859_1));
          next.write(b, at, b.length - at);
        }
        case 2 -> {
          int len = Math.min(b.length - at, 1 + random.nextInt(20));
          next.write(b, 0, at);
          next.write(b, at + len, b.length - at - len);
        }
        case 3 -> {
          int len = Math.min(b.length - at, 1 + random.nextInt(40));
          next.write(b, 0, at + len);
          next.write(b, at, b.length - at);
        }
        default -> next.write(b, 0, at);
      }
      b = next.toByteArray();
    }
    return b;
  }

  /** Sends, half-closes (so a short body ends), reads what comes back until EOF or 2 s. */
  static String exchange(byte[] request) throws IOException {
    try (var socket = new Socket("127.0.0.1", httpPort)) {
      socket.setSoTimeout(2000);
      socket.getOutputStream().write(request);
      socket.shutdownOutput();
      var in = socket.getInputStream();
      var reply = new ByteArrayOutputStream();
      var buf = new byte[8192];
      try {
        for (int n = in.read(buf); n >= 0 && reply.size() < 1 << 20; n = in.read(buf)) {
          reply.write(buf, 0, n);
        }
      } catch (SocketTimeoutException e) {
        // a head the server still waits on; the 2 s are enough to see any answer it gave
      } catch (IOException e) {
        // reset after an error answer
      }
      return reply.toString(StandardCharsets.ISO_8859_1);
    }
  }

  static String printable(byte[] b) {
    var s = new String(b, StandardCharsets.ISO_8859_1);
    return (s.length() > 300 ? s.substring(0, 300) + "..." : s).replace("\r", "\\r").replace("\n", "\\n");
  }

  // ---------------------------------------------------------------- gRPC

  enum Kind { UNARY, SERVER_STREAMING, CLIENT_STREAMING }

  record Method(String name, Kind kind, List<MessageLite> seeds) {}

  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  };

  static Digest digest(String hash, long size) {
    return Digest.newBuilder().setHash(hash).setSizeBytes(size).build();
  }

  static List<Method> methods() {
    var d = digest(HASH, BLOB.length);
    var cas = "build.bazel.remote.execution.v2.ContentAddressableStorage/";
    var resource = "blobs/" + HASH + "/" + BLOB.length;
    return List.of(
        new Method("build.bazel.remote.execution.v2.Capabilities/GetCapabilities", Kind.UNARY,
            List.of(GetCapabilitiesRequest.newBuilder().setInstanceName("main").build())),
        new Method(cas + "FindMissingBlobs", Kind.UNARY, List.of(FindMissingBlobsRequest.newBuilder()
            .addBlobDigests(d).addBlobDigests(digest("ab".repeat(32), 3)).build())),
        new Method(cas + "BatchUpdateBlobs", Kind.UNARY, List.of(BatchUpdateBlobsRequest.newBuilder()
            .addRequests(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(d)
                .setData(ByteString.copyFrom(BLOB))).build())),
        new Method(cas + "BatchReadBlobs", Kind.UNARY,
            List.of(BatchReadBlobsRequest.newBuilder().addDigests(d).build())),
        new Method(cas + "GetTree", Kind.SERVER_STREAMING,
            List.of(GetTreeRequest.newBuilder().setRootDigest(d).setPageSize(10).build())),
        new Method("build.bazel.remote.execution.v2.ActionCache/GetActionResult", Kind.UNARY,
            List.of(GetActionResultRequest.newBuilder().setActionDigest(d).setInlineStdout(true).build())),
        new Method("build.bazel.remote.execution.v2.ActionCache/UpdateActionResult", Kind.UNARY,
            List.of(UpdateActionResultRequest.newBuilder().setActionDigest(d).setActionResult(
                ActionResult.newBuilder().addOutputFiles(OutputFile.newBuilder().setPath("out")
                    .setDigest(d))).build())),
        new Method("google.bytestream.ByteStream/Read", Kind.SERVER_STREAMING,
            List.of(ReadRequest.newBuilder().setResourceName(resource).setReadOffset(1).build())),
        new Method("google.bytestream.ByteStream/Write", Kind.CLIENT_STREAMING,
            List.of(WriteRequest.newBuilder().setResourceName("uploads/1/" + resource)
                .setFinishWrite(true).setData(ByteString.copyFrom(BLOB)).build())),
        new Method("google.bytestream.ByteStream/QueryWriteStatus", Kind.UNARY,
            List.of(QueryWriteStatusRequest.newBuilder().setResourceName("uploads/1/" + resource).build())));
  }

  @Test
  void grpc_3000RandomAndMutatedMessages_noServerFault() throws Exception {
    var random = new Random(SEED + 1);
    var methods = methods();
    var codes = new TreeMap<String, Integer>();
    for (int i = 0; i < 3000; i++) {
      var method = methods.get(random.nextInt(methods.size()));
      var seed = method.seeds().get(0).toByteArray();
      var message = i % 5 == 0 ? randomBytes(random) : mutateBinary(random, seed);
      var status = call(method, List.of(message));
      codes.merge(status.getCode().name(), 1, Integer::sum);
      assertThat(status.getCode()).as("case %d (seed %d) %s %s: %s", i, SEED, method.name(),
          printable(message), status).isNotIn(SERVER_FAULTS);
    }
    System.out.println("grpc fuzz: 3000 messages, codes " + codes);
    assertThat(codes).containsKeys("OK", "INVALID_ARGUMENT");
  }

  static byte[] mutateBinary(Random random, byte[] seed) {
    var b = seed.clone();
    int edits = 1 + random.nextInt(3);
    for (int e = 0; e < edits && b.length > 0; e++) {
      switch (random.nextInt(3)) {
        case 0 -> b[random.nextInt(b.length)] = (byte) random.nextInt(256);
        case 1 -> b = java.util.Arrays.copyOf(b, random.nextInt(b.length));
        default -> {
          var extra = new byte[1 + random.nextInt(16)];
          random.nextBytes(extra);
          var joined = java.util.Arrays.copyOf(b, b.length + extra.length);
          System.arraycopy(extra, 0, joined, b.length, extra.length);
          b = joined;
        }
      }
    }
    return b;
  }

  /** Sends raw bytes as the method's request message(s); the status code it ends with. */
  static Status call(Method method, List<byte[]> messages) throws Exception {
    var type = switch (method.kind()) {
      case UNARY -> MethodDescriptor.MethodType.UNARY;
      case SERVER_STREAMING -> MethodDescriptor.MethodType.SERVER_STREAMING;
      case CLIENT_STREAMING -> MethodDescriptor.MethodType.CLIENT_STREAMING;
    };
    var descriptor = MethodDescriptor.<byte[], byte[]>newBuilder().setType(type)
        .setFullMethodName(method.name()).setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
    var options = CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS);
    try {
      switch (method.kind()) {
        case UNARY -> ClientCalls.blockingUnaryCall(channel, descriptor, options, messages.get(0));
        case SERVER_STREAMING -> ClientCalls.blockingServerStreamingCall(channel, descriptor, options,
            messages.get(0)).forEachRemaining(r -> { });
        case CLIENT_STREAMING -> {
          var done = new CompletableFuture<Status>();
          var requests = ClientCalls.asyncClientStreamingCall(channel.newCall(descriptor, options),
              new StreamObserver<byte[]>() {
                @Override
                public void onNext(byte[] value) {}

                @Override
                public void onError(Throwable t) {
                  done.complete(Status.fromThrowable(t));
                }

                @Override
                public void onCompleted() {
                  done.complete(Status.OK);
                }
              });
          messages.forEach(requests::onNext);
          requests.onCompleted();
          return done.get(15, TimeUnit.SECONDS);
        }
        default -> throw new IllegalStateException();
      }
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }

  // ---------------------------------------------------------------- resource names

  static final String[] NAME_PARTS = {"blobs", "compressed-blobs", "zstd", "deflate", "identity",
      "uploads", "main", "..", ".", "", "x", HASH, HASH.toUpperCase(Locale.ROOT), HASH.substring(1), "ab".repeat(20),
      "ab".repeat(64), "7", "0", "-1", "18446744073709551616", "9223372036854775807", "7x",
      "3fa85f64-5717-4562-b3fc-2c963f66afa6", "%2F", "\u00e9", "blake3", "sha256"};

  static final List<String> VALID_NAMES = List.of("blobs/" + HASH + "/7", "main/blobs/" + HASH + "/7",
      "compressed-blobs/zstd/" + HASH + "/7", "uploads/3fa85f64-5717-4562-b3fc-2c963f66afa6/blobs/"
          + HASH + "/7", "main/uploads/1/compressed-blobs/zstd/" + HASH + "/7");

  @Test
  void byteStream_2000ResourceNames_noServerFault() throws Exception {
    var random = new Random(SEED + 2);
    var read = methods().stream().filter(m -> m.name().endsWith("/Read")).findFirst().orElseThrow();
    var write = methods().stream().filter(m -> m.name().endsWith("/Write")).findFirst().orElseThrow();
    var codes = new TreeMap<String, Integer>();
    for (int i = 0; i < 2000; i++) {
      var parts = new ArrayList<String>();
      if (random.nextInt(3) == 0) {
        // A valid name with one segment replaced, inserted or dropped.
        var valid = VALID_NAMES.get(random.nextInt(VALID_NAMES.size()));
        parts.addAll(List.of(valid.split("/")));
        int at = random.nextInt(parts.size());
        var part = NAME_PARTS[random.nextInt(NAME_PARTS.length)];
        switch (random.nextInt(4)) {
          case 0 -> parts.set(at, part);
          case 1 -> parts.add(at, part);
          case 2 -> parts.remove(at);
          default -> { } // unchanged: must work
        }
      } else {
        int n = 1 + random.nextInt(7);
        for (int p = 0; p < n; p++) {
          parts.add(NAME_PARTS[random.nextInt(NAME_PARTS.length)]);
        }
      }
      var name = String.join("/", parts);
      boolean isWrite = random.nextBoolean();
      byte[] message;
      if (isWrite) {
        message = WriteRequest.newBuilder().setResourceName(name).setWriteOffset(random.nextInt(3) - 1L)
            .setFinishWrite(random.nextBoolean()).setData(ByteString.copyFrom(BLOB)).build().toByteArray();
      } else {
        message = ReadRequest.newBuilder().setResourceName(name).setReadOffset(random.nextInt(10) - 2L)
            .setReadLimit(random.nextInt(10) - 2L).build().toByteArray();
      }
      var status = call(isWrite ? write : read, List.of(message));
      codes.merge(status.getCode().name(), 1, Integer::sum);
      assertThat(status.getCode()).as("case %d (seed %d): %s %s: %s", i, SEED,
          isWrite ? "Write" : "Read", name, status).isNotIn(SERVER_FAULTS);
    }
    System.out.println("resource-name fuzz: 2000 names, codes " + codes);
    assertThat(codes).containsKeys("INVALID_ARGUMENT", "OK");
  }
}
