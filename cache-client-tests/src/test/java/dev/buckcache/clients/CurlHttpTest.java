package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.luben.zstd.Zstd;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.process.ServerProcess;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** curl against a real server process: every status code users can meet, zstd both ways. */
class CurlHttpTest {
  @TempDir static Path dir;
  static ServerProcess server;
  private final Random random = new Random(11);

  @BeforeAll
  static void start() throws Exception {
    Clients.require("curl");
    server = ServerProcess.serve(dir.resolve("data"), "--max-blob-size", "8MB", "--max-size", "40MB");
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.stopAndCheck();
    }
  }

  private static String sha(byte[] b) {
    return DigestFunction.SHA256.hash(b);
  }

  private Path file(byte[] content) throws Exception {
    var f = Files.createTempFile(dir, "blob", ".bin");
    Files.write(f, content);
    return f;
  }

  /** Runs curl; returns "STATUS BODY" with -w so the status is always last-known. */
  private static Clients.Result curl(String... args) throws Exception {
    var command = new ArrayList<>(List.of("curl", "-sS", "-o", "-", "-w", "\n%{http_code}"));
    command.addAll(List.of(args));
    return Clients.run(dir, Map.of(), 60, command);
  }

  private static int status(Clients.Result r) {
    var lines = r.output().trim().split("\n", -1);
    return Integer.parseInt(lines[lines.length - 1].trim());
  }

  @Test
  void putGetHead_roundTrip_andMisses() throws Exception {
    var content = new byte[300_000];
    random.nextBytes(content);
    var url = server.http() + "/cas/" + sha(content);
    assertThat(status(curl("-X", "PUT", "--data-binary", "@" + file(content), url))).isEqualTo(200);
    var out = dir.resolve("out.bin");
    var get = Clients.run(dir, Map.of(), 60, "curl", "-sS", "-o", out.toString(), "-w",
        "%{http_code}", url);
    assertThat(get.output()).isEqualTo("200");
    assertThat(Files.readAllBytes(out)).isEqualTo(content);
    var head = curl("-I", url);
    assertThat(head.output()).contains("content-length: " + content.length);
    assertThat(status(curl(server.http() + "/cas/" + "0".repeat(64)))).isEqualTo(404);
    assertThat(status(curl(server.http() + "/ac/" + "0".repeat(64)))).isEqualTo(404);
  }

  @Test
  void badInput_getsClearErrors() throws Exception {
    var content = "some bytes".getBytes(StandardCharsets.UTF_8);
    var wrongHash = server.http() + "/cas/" + sha("other".getBytes(StandardCharsets.UTF_8));
    var mismatch = curl("-X", "PUT", "--data-binary", "@" + file(content), wrongHash);
    assertThat(status(mismatch)).isEqualTo(400);
    assertThat(mismatch.output()).contains("content hashes to");
    var malformed = curl(server.http() + "/cas/not-a-hash");
    assertThat(status(malformed)).isEqualTo(400);
    assertThat(malformed.output()).contains("malformed hash");
    assertThat(status(curl(server.http() + "/no/such/thing"))).isEqualTo(404);
    assertThat(status(curl("-X", "DELETE", server.http() + "/cas/" + sha(content)))).isEqualTo(405);
    assertThat(status(curl("-X", "PUT", "-H", "Transfer-Encoding: chunked", "--data-binary",
        "@" + file(content), server.http() + "/cas/" + sha(content)))).isEqualTo(411);
    var big = new byte[9 * 1000 * 1000];
    var tooLarge = curl("-X", "PUT", "--data-binary", "@" + file(big), server.http() + "/cas/" + sha(big));
    assertThat(status(tooLarge)).isEqualTo(413);
    assertThat(tooLarge.output()).contains("max_blob_size");
    assertThat(status(curl("-X", "PUT", "-H", "Content-Encoding: gzip", "--data-binary",
        "@" + file(content), server.http() + "/cas/" + sha(content)))).isEqualTo(415);
  }

  @Test
  void blobLargerThanTheStore_507() throws Exception {
    try (var small = ServerProcess.serve(dir.resolve("small"), "--max-size", "32MiB")) {
      var big = new byte[30 * 1000 * 1000];
      var r = curl("-X", "PUT", "--data-binary", "@" + file(big), small.http() + "/cas/" + sha(big));
      assertThat(status(r)).isEqualTo(507);
      assertThat(r.output()).contains("larger than the whole store");
      small.stopAndCheck();
    }
  }

  @Test
  void truncatedUpload_writerReleasedNothingPending() throws Exception {
    // A truncated body can never hash to its digest, so "not stored" proves nothing. What can
    // leak is the writer and its pending chunks: see them while the upload runs, then see them go.
    var content = new byte[3 << 20];
    random.nextBytes(content);
    var uri = URI.create(server.http());
    try (var socket = new Socket(uri.getHost(), uri.getPort())) {
      OutputStream out = socket.getOutputStream();
      out.write(("PUT /cas/" + sha(content) + " HTTP/1.1\r\nHost: x\r\nContent-Length: "
          + content.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(content, 0, 2 << 20);
      out.flush();
      awaitMetrics("the upload is writing to disk",
          g -> g.applyAsDouble("buckcache_store_open_writers") >= 1
              && g.applyAsDouble("buckcache_store_uploading_bytes") > 0);
    }
    awaitMetrics("the truncated upload released its writer, chunks and claim",
        g -> g.applyAsDouble("buckcache_store_open_writers") == 0
            && g.applyAsDouble("buckcache_store_uploading_bytes") == 0
            && g.applyAsDouble("buckcache_inflight_bytes") == 0);
  }

  /** The server's unlabelled buckcache gauges, from /metrics. */
  private static Map<String, Double> gauges() throws Exception {
    var text = curl(server.http() + "/metrics").output();
    var values = new java.util.HashMap<String, Double>();
    for (var line : text.split("\n", -1)) {
      var m = java.util.regex.Pattern.compile("^(buckcache_[a-z_]+) ([0-9.eE+-]+)$").matcher(line);
      if (m.matches()) {
        values.put(m.group(1), Double.parseDouble(m.group(2)));
      }
    }
    return values;
  }

  /**
   * Polls /metrics until {@code condition} holds of its gauges (a missing one reads NaN, so a
   * condition on it is false); fails after 10 s with the last values.
   */
  private static void awaitMetrics(String what,
      java.util.function.Predicate<java.util.function.ToDoubleFunction<String>> condition)
      throws Exception {
    long deadline = System.nanoTime() + 10_000_000_000L;
    var last = gauges();
    while (!condition.test(read(last)) && System.nanoTime() < deadline) {
      Thread.sleep(50);
      last = gauges();
    }
    assertThat(condition.test(read(last))).as(what + ": " + last).isTrue();
  }

  private static java.util.function.ToDoubleFunction<String> read(Map<String, Double> values) {
    return name -> values.getOrDefault(name, Double.NaN);
  }

  @Test
  void zstd_putAndGet() throws Exception {
    var content = "a build output that compresses well. ".repeat(60_000).getBytes(StandardCharsets.UTF_8);
    var packed = Zstd.compress(content, 3);
    var url = server.http() + "/cas/" + sha(content);
    assertThat(status(curl("-X", "PUT", "-H", "Content-Encoding: zstd", "-H",
        "X-Digest-SizeBytes: " + content.length, "--data-binary", "@" + file(packed), url)))
        .isEqualTo(200);
    var out = dir.resolve("zstd.out");
    var r = Clients.run(dir, Map.of(), 60, "curl", "-sS", "-D", "-", "-o", out.toString(),
        "-H", "Accept-Encoding: zstd", url);
    assertThat(r.output().toLowerCase(Locale.ROOT)).contains("content-encoding: zstd");
    var zipped = Files.readAllBytes(out);
    assertThat(zipped.length).isLessThan(content.length / 10);
    assertThat(Zstd.decompress(zipped, content.length)).isEqualTo(content);
    // Plain GET of the same blob: identity.
    assertThat(status(curl("-o", "/dev/null", url))).isEqualTo(200);
  }

  @Test
  void keepAlive_connectionReused() throws Exception {
    var r = Clients.run(dir, Map.of(), 60, "curl", "-sv", "-o", "/dev/null", "-o", "/dev/null",
        server.http() + "/healthz", server.http() + "/status");
    assertThat(r.output()).contains("Re-using existing connection");
  }

  @Test
  void statusAndHealthz() throws Exception {
    assertThat(curl(server.http() + "/healthz").output()).startsWith("ok");
    var status = curl(server.http() + "/status").output();
    assertThat(status).contains("\"CurrSize\":").contains("\"MaxSize\":40000000")
        .contains("\"NumFiles\":");
  }

  @Test
  void idleConnection_isClosedByTheServer() throws Exception {
    try (var quick = ServerProcess.serve(dir.resolve("idle"), "--http-idle-timeout", "1s")) {
      var uri = URI.create(quick.http());
      try (var socket = new Socket(uri.getHost(), uri.getPort())) {
        socket.setSoTimeout(10_000);
        long start = System.nanoTime();
        assertThat(socket.getInputStream().read()).as("EOF from the server").isEqualTo(-1);
        assertThat((System.nanoTime() - start) / 1e9).isLessThan(9.0);
      }
      quick.stopAndCheck();
    }
  }

  @Test
  void bodyLongerThanContentLength_extraBytesAreABadRequest() throws Exception {
    var uri = URI.create(server.http());
    var hello = "hello".getBytes(StandardCharsets.UTF_8);
    try (var socket = new Socket(uri.getHost(), uri.getPort())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("PUT /cas/" + sha(hello) + " HTTP/1.1\r\nHost: x\r\n"
          + "Content-Length: 5\r\n\r\nhello and then some garbage\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      var reply = new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(reply).startsWith("HTTP/1.1 200 OK").contains("HTTP/1.1 400 Bad Request");
    }
  }
}
