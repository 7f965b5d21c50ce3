package dev.buckcache.process;

import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import dev.buckcache.digest.DigestFunction;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;

/**
 * The request kinds {@link OverloadTest} mixes, each a bounded operation that ends in one
 * outcome: the status the server gave, a close (resolved later against the server's log), or an
 * end the test chose (a trickle stopped, a stream abandoned). Plain sockets for HTTP, so an
 * announcement can promise a body that never comes; grpc-java for gRPC.
 *
 * <p>Memory of this JVM stays bounded: payloads are slices of one 16 MiB random pool behind a
 * unique prefix (fresh content for the server, no per-call random fill here), and the caller
 * caps how many heavy operations run at once.
 */
final class OverloadLoad {
  static final long ANNOUNCED = 60_000_000;
  static final int POOL = 16 << 20;
  /** A gRPC call the server has not ended by then is one it left without an answer. */
  static final long DEADLINE_SECONDS = 20;
  /** Outcomes that are not a status: resolved, or chosen by the test. */
  static final String CLOSED_LOGGED = "closed by server, reason logged";
  static final String CLOSED_UNLOGGED = "closed by server, NO reason logged";
  static final String NO_ANSWER = "no answer and no close";
  static final String TEST_ENDED = "ended by the test (trickle stopped)";
  static final String ABANDONED = "abandoned by the test mid-stream";
  static final String CANCELLED = "cancelled by the test";
  static final Set<Status.Code> GRPC_FAULTS = Set.of(Status.Code.UNKNOWN, Status.Code.INTERNAL,
      Status.Code.DATA_LOSS, Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED,
      Status.Code.UNIMPLEMENTED, Status.Code.CANCELLED);
  private static final Pattern STATUS_LINE = Pattern.compile("^HTTP/1\\.[01] (\\d{3})");

  /** What the test does; weight is its share of picks, heavy ones are capped by the caller. */
  enum Kind {
    AC_SILENT("HTTP PUT /ac, 60 MB announced, nothing sent", 8, false),
    CAS_SILENT("HTTP PUT /cas, 60 MB announced, nothing sent", 8, false),
    AC_TRICKLE("HTTP PUT /ac, 60 MB announced, 64 B per 500 ms", 5, false),
    CAS_TRICKLE("HTTP PUT /cas, 60 MB announced, 64 B per 500 ms", 5, false),
    SLOW_BODY("HTTP PUT /cas 256 KiB, 16 KiB per 100 ms", 8, false),
    GET_ABORTED("HTTP GET multi-MiB blob, closed after a few KB", 12, false),
    RANDOM("HTTP random method, path and header values", 14, false),
    BATCH_UPDATE("gRPC BatchUpdateBlobs, 60 x 64 KiB", 8, true),
    BATCH_UPDATE_BLOB("  ... per blob in those batches", 0, false),
    BATCH_READ("gRPC BatchReadBlobs, up to 60 x 64 KiB", 8, false),
    BATCH_READ_BLOB("  ... per blob in those batches", 0, false),
    BS_WRITE("gRPC ByteStream Write 2-8 MiB, 1/3 abandoned", 10, true),
    BS_READ("gRPC ByteStream Read multi-MiB, 1/2 cancelled", 10, false);

    final String label;
    final int weight;
    final boolean heavy;

    Kind(String label, int weight, boolean heavy) {
      this.label = label;
      this.weight = weight;
      this.heavy = heavy;
    }
  }

  /** A connection the server closed before any status: open and close times, local port. */
  record Close(Kind kind, int port, Instant opened, Instant closed) {}

  /** Outcome counts by kind, the closes still to resolve, and a few examples of each fault. */
  static final class Outcomes {
    final Map<Kind, Map<String, LongAdder>> counts = new ConcurrentHashMap<>();
    final Set<String> faults = ConcurrentHashMap.newKeySet();
    final ConcurrentLinkedQueue<Close> closes = new ConcurrentLinkedQueue<>();
    final Map<String, ConcurrentLinkedQueue<String>> examples = new ConcurrentHashMap<>();

    void count(Kind kind, String outcome, boolean fault) {
      counts.computeIfAbsent(kind, k -> new ConcurrentHashMap<>())
          .computeIfAbsent(outcome, o -> new LongAdder()).increment();
      if (fault) {
        faults.add(outcome);
      }
    }

    /** Keeps up to 3 examples of an outcome, each its first line, at most 240 characters. */
    void example(String outcome, String detail) {
      var list = examples.computeIfAbsent(outcome, o -> new ConcurrentLinkedQueue<>());
      if (list.size() < 3) {
        var line = detail.lines().findFirst().orElse("");
        list.add(line.length() > 240 ? line.substring(0, 240) + "..." : line);
      }
    }

    long total(Kind kind) {
      return counts.getOrDefault(kind, Map.of()).values().stream().mapToLong(LongAdder::sum).sum();
    }

    /** Faults by outcome over every kind. */
    Map<String, Long> faultCounts() {
      var out = new TreeMap<String, Long>();
      counts.forEach((kind, byOutcome) -> byOutcome.forEach((outcome, n) -> {
        if (faults.contains(outcome)) {
          out.merge(kind.name() + ": " + outcome, n.sum(), Long::sum);
        }
      }));
      return out;
    }
  }

  private final int httpPort;
  private final List<ManagedChannel> channels;
  private final Duration idle;
  private final Outcomes outcomes;
  private final byte[] pool;
  private final List<byte[]> bigBlobs;
  private final List<String> bigHashes;
  private final AtomicReferenceArray<Digest> recent = new AtomicReferenceArray<>(4096);
  private final AtomicLong recentNext = new AtomicLong();
  private final AtomicLong unique = new AtomicLong();

  OverloadLoad(int httpPort, List<ManagedChannel> channels, Duration idle, Outcomes outcomes,
      List<byte[]> bigBlobs) {
    this.httpPort = httpPort;
    this.channels = channels;
    this.idle = idle;
    this.outcomes = outcomes;
    this.bigBlobs = bigBlobs;
    this.bigHashes = bigBlobs.stream().map(DigestFunction.SHA256::hash).toList();
    this.pool = new byte[POOL];
    new SplittableRandom(12).nextBytes(pool);
  }

  /** Fresh, incompressible content: a unique prefix, then a slice of the random pool. */
  byte[] fresh(int size) {
    var b = new byte[size];
    int from = ThreadLocalRandom.current().nextInt(POOL - size);
    System.arraycopy(pool, from, b, 0, size);
    var tag = (unique.incrementAndGet() + ":" + System.nanoTime() + ":")
        .getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(tag, 0, b, 0, Math.min(tag.length, size));
    return b;
  }

  /** Runs one operation of {@code kind} and counts its outcome; never throws. */
  void run(Kind kind) {
    String outcome;
    try {
      outcome = switch (kind) {
        case AC_SILENT -> announce("ac", false);
        case CAS_SILENT -> announce("cas", false);
        case AC_TRICKLE -> announce("ac", true);
        case CAS_TRICKLE -> announce("cas", true);
        case SLOW_BODY -> slowBody();
        case GET_ABORTED -> getAborted();
        case RANDOM -> randomRequest();
        case BATCH_UPDATE -> batchUpdate();
        case BATCH_READ -> batchRead();
        case BS_WRITE -> byteStreamWrite();
        case BS_READ -> byteStreamRead();
        default -> throw new IllegalArgumentException(kind.name());
      };
    } catch (StatusRuntimeException e) {
      outcome = grpc(e.getStatus(), kind);
    } catch (Unreachable e) {
      outcome = e.getMessage();
      outcomes.example(outcome, kind + ": " + e.getCause());
    } catch (Exception e) {
      outcome = "test-side error: " + e.getClass().getSimpleName();
      outcomes.example(outcome, kind + ": " + e);
    }
    if (outcome != null) {
      outcomes.count(kind, outcome, isFault(outcome));
    }
  }

  static boolean isFault(String outcome) {
    if (outcome.startsWith("HTTP ")) {
      int code = Integer.parseInt(outcome.substring(5, 8));
      return !(code / 100 == 2 || code / 100 == 4 || code == 503 || code == 507);
    }
    if (outcome.startsWith("gRPC ")) {
      return GRPC_FAULTS.contains(Status.Code.valueOf(outcome.substring(5)));
    }
    return !(outcome.equals(CLOSED_LOGGED) || outcome.equals(TEST_ENDED)
        || outcome.equals(ABANDONED) || outcome.equals(CANCELLED));
  }

  private String grpc(Status status, Kind kind) {
    var outcome = "gRPC " + status.getCode();
    if (GRPC_FAULTS.contains(status.getCode())) {
      outcomes.example(outcome, kind + ": " + status
          + (status.getCause() == null ? "" : " (cause " + status.getCause() + ")"));
    }
    return outcome;
  }

  // ------------------------------------------------------------------------------ HTTP

  /** The server did not take the connection at all: an outcome (a fault), not a test error. */
  static final class Unreachable extends IOException {
    private static final long serialVersionUID = 1L;

    Unreachable(String outcome, Throwable cause) {
      super(outcome, cause);
    }
  }

  /** One HTTP/1.1 connection on a plain socket; reads response heads across timeouts. */
  private final class Raw implements AutoCloseable {
    final Socket socket = new Socket();
    final Instant opened = Instant.now();
    final Kind kind;
    private final ByteArrayOutputStream head = new ByteArrayOutputStream();

    Raw(Kind kind) throws IOException {
      this.kind = kind;
      try {
        socket.connect(new InetSocketAddress("127.0.0.1", httpPort), 10_000);
      } catch (SocketTimeoutException e) {
        socket.close();
        throw new Unreachable("connect timed out (10 s): the server accepted no connection", e);
      } catch (java.net.ConnectException e) {
        socket.close();
        throw new Unreachable("connection refused", e);
      }
    }

    void send(byte[] bytes) throws IOException {
      socket.getOutputStream().write(bytes);
      socket.getOutputStream().flush();
    }

    /** The next final status, 0 if none within {@code millis}, -1 if the server closed first. */
    int status(long millis) throws IOException {
      socket.setSoTimeout((int) Math.max(1, millis));
      var in = socket.getInputStream();
      try {
        while (true) {
          int c = in.read();
          if (c < 0) {
            return partialStatus();
          }
          head.write(c);
          var text = head.toString(StandardCharsets.ISO_8859_1);
          if (text.endsWith("\r\n\r\n")) {
            int code = partialStatus();
            head.reset();
            if (code != 100) {
              return code;
            }
          } else if (head.size() > 64 * 1024) {
            return partialStatus();
          }
        }
      } catch (SocketTimeoutException e) {
        return 0;
      } catch (IOException e) { // reset: whatever head already arrived still counts
        return partialStatus();
      }
    }

    private int partialStatus() {
      var m = STATUS_LINE.matcher(head.toString(StandardCharsets.ISO_8859_1));
      return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** The outcome for a code from {@link #status}: a status, or a close to resolve later. */
    String outcome(int code) {
      if (code > 0) {
        return "HTTP " + code;
      }
      outcomes.closes.add(new Close(kind, socket.getLocalPort(), opened, Instant.now()));
      return null; // counted once the server's log is read
    }

    /** No status and no close in time: a fault, with the port and times to find in the log. */
    String noAnswer() {
      outcomes.example(NO_ANSWER, kind + " from port " + socket.getLocalPort() + ", open "
          + opened + " .. " + Instant.now());
      return NO_ANSWER;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  private static String hex64() {
    var r = ThreadLocalRandom.current();
    return String.format(Locale.ROOT, "%016x%016x%016x%016x", r.nextLong(), r.nextLong(),
        r.nextLong(), r.nextLong());
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** A 60 MB body announced; then nothing, or 64 bytes per 500 ms until the test stops. */
  private String announce(String kindPath, boolean trickle) throws IOException {
    var kind = kindPath.equals("ac")
        ? (trickle ? Kind.AC_TRICKLE : Kind.AC_SILENT) : (trickle ? Kind.CAS_TRICKLE : Kind.CAS_SILENT);
    boolean expect = ThreadLocalRandom.current().nextInt(4) == 0;
    try (var c = new Raw(kind)) {
      c.send(ascii("PUT /" + kindPath + "/" + hex64() + " HTTP/1.1\r\nHost: c\r\nContent-Length: "
          + ANNOUNCED + "\r\n" + (expect ? "Expect: 100-continue\r\n" : "") + "\r\n"));
      long waitMillis = trickle ? 8_000 : idle.toMillis() + 5_000;
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
      while (System.nanoTime() < until) {
        int code = c.status(trickle ? 500 : waitMillis);
        if (code != 0) {
          return c.outcome(code);
        }
        if (trickle) {
          try {
            c.send(fresh(64));
          } catch (IOException e) {
            return c.outcome(c.status(200));
          }
        }
      }
      return trickle ? TEST_ENDED : c.noAnswer();
    }
  }

  /** A real 256 KiB blob, sent slowly; the server must store it or say why not. */
  private String slowBody() throws Exception {
    var blob = fresh(256 << 10);
    try (var c = new Raw(Kind.SLOW_BODY)) {
      c.send(ascii("PUT /cas/" + DigestFunction.SHA256.hash(blob) + " HTTP/1.1\r\nHost: c\r\n"
          + "Content-Length: " + blob.length + "\r\n\r\n"));
      for (int off = 0; off < blob.length; off += 16 << 10) {
        int code = c.status(100);
        if (code != 0) {
          return c.outcome(code); // answered (or closed) before the body ended
        }
        try {
          c.socket.getOutputStream().write(blob, off, Math.min(16 << 10, blob.length - off));
        } catch (IOException e) {
          return c.outcome(c.status(200));
        }
      }
      int code = c.status(idle.toMillis() + 5_000);
      return code == 0 ? c.noAnswer() : c.outcome(code);
    }
  }

  /** GET a multi-MiB blob, read its status and a few KB, then drop the connection. */
  private String getAborted() throws IOException {
    var random = ThreadLocalRandom.current();
    var hash = bigHashes.get(random.nextInt(bigHashes.size()));
    boolean zstd = random.nextBoolean();
    try (var c = new Raw(Kind.GET_ABORTED)) {
      c.send(ascii("GET /cas/" + hash + " HTTP/1.1\r\nHost: c\r\n"
          + (zstd ? "Accept-Encoding: zstd\r\n" : "") + "\r\n"));
      int code = c.status(idle.toMillis() + 5_000);
      if (code == 200) {
        var in = c.socket.getInputStream();
        var buf = new byte[4096];
        int want = 1024 + random.nextInt(16 * 1024);
        try {
          for (int got = 0; got < want; ) {
            int n = in.read(buf);
            if (n < 0) {
              break;
            }
            got += n;
          }
        } catch (SocketTimeoutException e) {
          return "HTTP 200, then the body stalled " + idle.plusSeconds(5).toSeconds() + " s";
        }
        c.socket.setSoLinger(true, 0); // a reset, as a client that dies sends
      }
      return code == 0 ? c.noAnswer() : c.outcome(code);
    }
  }

  private static final String[] METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS",
      "PATCH", "TRACE"};
  private static final String[] HEADERS = {"Content-Length", "Content-Encoding", "Accept-Encoding",
      "Expect", "Connection", "Transfer-Encoding", "Authorization", "X-Digest-SizeBytes", "Accept",
      "Range", "Host"};

  /** A random method (often an unknown one), a plausible or random path, random header values. */
  private String randomRequest() throws IOException {
    var r = ThreadLocalRandom.current();
    var method = r.nextBoolean() ? METHODS[r.nextInt(METHODS.length)] : letters(r, 1 + r.nextInt(12));
    var paths = new String[] {"/cas/" + hex64(), "/ac/" + hex64(), "/main/cas/" + hex64(),
        "/cas/" + bigHashes.get(0), "/status", "/healthz", "/" + letters(r, 1 + r.nextInt(20)),
        "/cas/" + letters(r, r.nextInt(70))};
    var request = new StringBuilder(method).append(' ').append(paths[r.nextInt(paths.length)])
        .append(" HTTP/1.1\r\nHost: c\r\n");
    int bodyLength = 0;
    for (int i = r.nextInt(6); i >= 0; i--) {
      var name = r.nextInt(5) == 0 ? "X-" + letters(r, 1 + r.nextInt(10)) : HEADERS[r.nextInt(HEADERS.length)];
      var value = headerValue(r);
      if (name.equals("Content-Length")) {
        if (value.chars().allMatch(Character::isDigit) && !value.isEmpty() && value.length() < 5) {
          bodyLength = Integer.parseInt(value);
        } else if (r.nextBoolean()) {
          bodyLength = r.nextInt(4096);
          value = Integer.toString(bodyLength);
        }
      }
      request.append(name).append(": ").append(value).append("\r\n");
    }
    try (var c = new Raw(Kind.RANDOM)) {
      c.send(ascii(request.append("\r\n").toString()));
      if (bodyLength > 0) {
        try {
          c.send(fresh(bodyLength));
        } catch (IOException e) {
          return c.outcome(c.status(200));
        }
      }
      int code = c.status(idle.toMillis() + 5_000);
      return code == 0 ? c.noAnswer() : c.outcome(code);
    }
  }

  private static String letters(ThreadLocalRandom r, int n) {
    var s = new StringBuilder();
    for (int i = 0; i < n; i++) {
      s.append((char) ('A' + r.nextInt(26)));
    }
    return s.toString();
  }

  /** Digits, printable noise, obs-text bytes, or an empty value. */
  private static String headerValue(ThreadLocalRandom r) {
    var s = new StringBuilder();
    int n = r.nextInt(40);
    int style = r.nextInt(4);
    for (int i = 0; i < n; i++) {
      s.append(switch (style) {
        case 0 -> (char) ('0' + r.nextInt(10));
        case 1 -> (char) (0x20 + r.nextInt(0x5f));
        case 2 -> (char) (0x80 + r.nextInt(0x80));
        default -> r.nextInt(8) == 0 ? '\t' : (char) ('a' + r.nextInt(26));
      });
    }
    return s.toString().trim();
  }

  // ------------------------------------------------------------------------------ gRPC

  private ManagedChannel channel() {
    return channels.get(ThreadLocalRandom.current().nextInt(channels.size()));
  }

  private void remember(Digest d) {
    recent.set((int) (recentNext.getAndIncrement() % recent.length()), d);
  }

  private String batchUpdate() {
    var request = BatchUpdateBlobsRequest.newBuilder();
    for (int i = 0; i < 60; i++) {
      var blob = fresh(64 << 10);
      var d = Digest.newBuilder().setHash(DigestFunction.SHA256.hash(blob)).setSizeBytes(blob.length).build();
      request.addRequestsBuilder().setDigest(d).setData(ByteString.copyFrom(blob));
    }
    var response = ContentAddressableStorageGrpc.newBlockingStub(channel())
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS).batchUpdateBlobs(request.build());
    for (var r : response.getResponsesList()) {
      var code = Status.fromCodeValue(r.getStatus().getCode());
      outcomes.count(Kind.BATCH_UPDATE_BLOB, grpc(code.withDescription(r.getStatus().getMessage()),
          Kind.BATCH_UPDATE_BLOB), GRPC_FAULTS.contains(code.getCode()));
      if (code.isOk()) {
        remember(r.getDigest());
      }
    }
    return "gRPC OK";
  }

  private String batchRead() {
    var r = ThreadLocalRandom.current();
    var request = BatchReadBlobsRequest.newBuilder();
    long n = Math.min(recentNext.get(), recent.length());
    for (int i = 0; i < 60; i++) {
      var d = n == 0 || r.nextInt(10) == 0 ? null : recent.get(r.nextInt((int) n));
      request.addDigests(d != null ? d : Digest.newBuilder().setHash(hex64()).setSizeBytes(64 << 10).build());
    }
    var response = ContentAddressableStorageGrpc.newBlockingStub(channel())
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS).batchReadBlobs(request.build());
    for (var blob : response.getResponsesList()) {
      var code = Status.fromCodeValue(blob.getStatus().getCode());
      outcomes.count(Kind.BATCH_READ_BLOB, grpc(code.withDescription(blob.getStatus().getMessage()),
          Kind.BATCH_READ_BLOB), GRPC_FAULTS.contains(code.getCode()));
    }
    return "gRPC OK";
  }

  /** A fresh 2-8 MiB upload in 256 KiB messages, sent only while the stream is ready. */
  private String byteStreamWrite() throws Exception {
    var r = ThreadLocalRandom.current();
    var blob = fresh((2 << 20) + r.nextInt(6 << 20));
    var resource = "uploads/" + UUID.randomUUID() + "/blobs/" + DigestFunction.SHA256.hash(blob)
        + "/" + blob.length;
    int abandonAt = r.nextInt(3) == 0 ? r.nextInt(blob.length) : Integer.MAX_VALUE;
    var done = new CompletableFuture<WriteResponse>();
    var started = new CompletableFuture<ClientCallStreamObserver<WriteRequest>>();
    ByteStreamGrpc.newStub(channel()).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS).write(
        new ClientResponseObserver<WriteRequest, WriteResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<WriteRequest> stream) {
            started.complete(stream);
          }

          @Override
          public void onNext(WriteResponse v) {
            done.complete(v);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    var stream = started.get(10, TimeUnit.SECONDS);
    int message = 256 << 10;
    for (int off = 0; off < blob.length && !done.isDone(); off += message) {
      if (off >= abandonAt) {
        stream.cancel("the test abandons this upload", null);
        return ABANDONED;
      }
      if (!awaitReady(stream, done)) {
        break;
      }
      int len = Math.min(message, blob.length - off);
      stream.onNext(WriteRequest.newBuilder().setResourceName(off == 0 ? resource : "")
          .setWriteOffset(off).setFinishWrite(off + len == blob.length)
          .setData(ByteString.copyFrom(blob, off, len)).build());
    }
    if (!done.isDone()) {
      stream.onCompleted();
    }
    try {
      done.get(DEADLINE_SECONDS + 5, TimeUnit.SECONDS);
      return "gRPC OK";
    } catch (java.util.concurrent.ExecutionException e) {
      return grpc(Status.fromThrowable(e.getCause()), Kind.BS_WRITE);
    }
  }

  private static boolean awaitReady(ClientCallStreamObserver<WriteRequest> stream,
      CompletableFuture<WriteResponse> done) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
    while (!stream.isReady() && !done.isDone() && System.nanoTime() < until) {
      Thread.sleep(2);
    }
    return !done.isDone() && stream.isReady();
  }

  /** Reads a big blob whole, or cancels after its first message. */
  private String byteStreamRead() throws Exception {
    var r = ThreadLocalRandom.current();
    int i = r.nextInt(bigBlobs.size());
    boolean cancel = r.nextBoolean();
    var context = Context.current().withCancellation();
    try {
      return context.call(() -> {
        var responses = ByteStreamGrpc.newBlockingStub(channel()).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS)
            .read(ReadRequest.newBuilder().setResourceName("blobs/" + bigHashes.get(i) + "/"
                + bigBlobs.get(i).length).build());
        long got = 0;
        while (responses.hasNext()) {
          got += responses.next().getData().size();
          if (cancel) {
            return CANCELLED;
          }
        }
        if (got != bigBlobs.get(i).length) {
          outcomes.example("short read", "ByteStream read " + got + " of " + bigBlobs.get(i).length);
          return "short read";
        }
        return "gRPC OK";
      });
    } finally {
      context.cancel(null);
    }
  }

  /** The warm-up: one operation of every kind at once, so every series exists before the baseline. */
  List<Kind> everyKind() {
    var kinds = new ArrayList<Kind>();
    for (var k : Kind.values()) {
      if (k.weight > 0) {
        kinds.add(k);
      }
    }
    return kinds;
  }
}
