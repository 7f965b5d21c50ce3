package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One big blob through the bucket with small heaps: PUT through node A (multipart upload from
 * its local copy), GET through node B (fetched from the bucket into its disk, then served), both
 * streamed end to end; the test never holds the blob either. CI runs 300 MB under -Xmx128m;
 * {@code scripts/s3-big-blob} runs 2 GiB under -Xmx256m ({@code buckcache.bigblob.mb},
 * {@code buckcache.bigblob.heap}).
 */
class SharedStoreBigBlobTest {
  static final long MB = Long.getLong("buckcache.bigblob.mb", 300);
  static final String HEAP = System.getProperty("buckcache.bigblob.heap", "128m");

  @TempDir Path dir;

  /** Deterministic incompressible bytes, generated as read. */
  static final class Blob extends InputStream {
    private final SplittableRandom random = new SplittableRandom(42);
    private long left;
    private final byte[] block = new byte[8];
    private int pos = 8;

    Blob(long size) {
      left = size;
    }

    @Override
    public int read() {
      if (left <= 0) {
        return -1;
      }
      if (pos == 8) {
        long v = random.nextLong();
        for (int i = 0; i < 8; i++) {
          block[i] = (byte) (v >>> (8 * i));
        }
        pos = 0;
      }
      left--;
      return block[pos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (left <= 0) {
        return -1;
      }
      int n = (int) Math.min(len, left);
      for (int i = 0; i < n; i++) {
        b[off + i] = (byte) read();
      }
      return n;
    }
  }

  static String sha256(InputStream in) throws Exception {
    var md = MessageDigest.getInstance("SHA-256");
    var buf = new byte[1 << 16];
    long total = 0;
    for (int n = in.read(buf); n > 0; n = in.read(buf)) {
      md.update(buf, 0, n);
      total += n;
    }
    in.close();
    return HexFormat.of().formatHex(md.digest()) + ":" + total;
  }

  @Test
  void bigBlob_putThroughOneNode_getThroughAnother_smallHeaps_exact() throws Exception {
    long size = MB * 1_000_000;
    var expected = sha256(new Blob(size));
    var hash = expected.substring(0, expected.indexOf(':'));
    try (var s3 = S3ProxyServer.start(dir.resolve("s3"))) {
      var flags = new java.util.ArrayList<>(s3.nodeFlags("shared"));
      flags.addAll(List.of("--max-size", (size * 3 / 1_000_000) + "MB", "--memory-size", "8MB"));
      var jvm = List.of("-Xmx" + HEAP);
      try (var a = ServerProcess.serve(S3ProxyServer.credentials(), jvm, dir.resolve("a"),
              flags.toArray(String[]::new));
          var b = ServerProcess.serve(S3ProxyServer.credentials(), jvm, dir.resolve("b"),
              flags.toArray(String[]::new))) {
        var http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        long started = System.nanoTime();
        var put = http.send(HttpRequest.newBuilder(URI.create(a.http() + "/cas/" + hash))
            .timeout(Duration.ofMinutes(10))
            .PUT(HttpRequest.BodyPublishers.fromPublisher(
                HttpRequest.BodyPublishers.ofInputStream(() -> new Blob(size)), size)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
        double putSeconds = (System.nanoTime() - started) / 1e9;
        started = System.nanoTime();
        var got = http.send(HttpRequest.newBuilder(URI.create(b.http() + "/cas/" + hash))
            .timeout(Duration.ofMinutes(10)).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(got.statusCode()).isEqualTo(200);
        assertThat(sha256(got.body())).as("the bytes B serves").isEqualTo(expected);
        double getSeconds = (System.nanoTime() - started) / 1e9;
        System.out.printf(java.util.Locale.ROOT, "big blob via S3: %d MB, -Xmx%s: PUT via A %.1f s,"
            + " GET via B %.1f s%n", MB, HEAP, putSeconds, getSeconds);
        for (var node : List.of(a, b)) {
          assertThat(node.output()).noneMatch(l -> l.contains("OutOfMemoryError"));
        }
        b.stopAndCheck();
        a.stopAndCheck();
      }
    }
  }
}
