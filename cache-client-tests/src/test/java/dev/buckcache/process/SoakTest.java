package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import dev.buckcache.digest.DigestFunction;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mixed load at a fixed rate against a server process: HTTP GETs (hits and misses), PUTs,
 * FindMissingBlobs, ByteStream reads, with eviction running. Zero errors, and the heap after
 * a full collection (jcmd GC.run before each sample), the RSS and the open files stay flat.
 *
 * <p>CI runs it for 20 s ({@code buckcache.soak.seconds}); {@code scripts/soak} runs 30 minutes
 * and writes {@code cache-client-tests/target/soak-report.md}.
 */
class SoakTest {
  static final long SECONDS = Long.getLong("buckcache.soak.seconds", 20);
  static final int RATE = Integer.getInteger("buckcache.soak.rate", 400);
  static final int KEYS = 4000;
  static final Pattern HEAP = Pattern.compile("(?m)^jvm_memory_used_bytes\\{area=\"heap\"[^}]*\\} (\\S+)$");

  @TempDir Path dir;

  record Sample(long second, long ops, long errors, long heapAfterGc, long rss, long fds) {}

  static byte[] blob(int key) {
    var random = new Random(key);
    var b = new byte[1024 + random.nextInt(63 * 1024)];
    random.nextBytes(b);
    return b;
  }

  @Test
  void fixedRateMixedLoad_zeroErrors_heapRssAndFilesFlat() throws Exception {
    var hashes = new String[KEYS];
    var sizes = new int[KEYS];
    for (int k = 0; k < KEYS; k++) {
      var b = blob(k);
      hashes[k] = DigestFunction.SHA256.hash(b);
      sizes[k] = b.length;
    }
    // 4000 blobs of about 32 KiB = 130 MB into a 64 MiB store: eviction all along. The heap is
    // committed and touched up front (-Xms = -Xmx, AlwaysPreTouch), so RSS growth is native
    // memory (RocksDB, Netty's direct buffers, threads), not G1 touching heap pages it already
    // had: the heap itself is checked after GC.
    try (var server = ServerProcess.serve(Map.of(),
        List.of("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch"), dir.resolve("data"),
        "--max-size", "64MiB", "--memory-size", "16MB")) {
      var channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
      var http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      var ops = new AtomicLong();
      var errors = new AtomicLong();
      var firstErrors = new ConcurrentLinkedQueue<String>();
      var workers = Executors.newFixedThreadPool(8);
      var ticker = Executors.newSingleThreadScheduledExecutor();
      Runnable op = () -> {
        var random = ThreadLocalRandom.current();
        int k = random.nextInt(KEYS);
        try {
          int kind = random.nextInt(10);
          var uri = URI.create(server.http() + "/cas/" + hashes[k]);
          if (kind < 6) {
            var r = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() == 200 ? !java.util.Arrays.equals(r.body(), blob(k)) : r.statusCode() != 404) {
              throw new IllegalStateException("GET " + k + ": " + r.statusCode());
            }
          } else if (kind < 8) {
            var r = http.send(HttpRequest.newBuilder(uri).PUT(HttpRequest.BodyPublishers.ofByteArray(blob(k)))
                .build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
              throw new IllegalStateException("PUT " + k + ": " + r.statusCode() + " " + r.body());
            }
          } else if (kind < 9) {
            var request = FindMissingBlobsRequest.newBuilder();
            for (int i = 0; i < 100; i++) {
              int j = random.nextInt(KEYS);
              request.addBlobDigests(Digest.newBuilder().setHash(hashes[j]).setSizeBytes(sizes[j]));
            }
            ContentAddressableStorageGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .findMissingBlobs(request.build());
          } else {
            try {
              var got = ByteStreams.read(channel, hashes[k], sizes[k]);
              if (!java.util.Arrays.equals(got, blob(k))) {
                throw new IllegalStateException("ByteStream read " + k + ": wrong bytes");
              }
            } catch (io.grpc.StatusRuntimeException e) {
              if (e.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) {
                throw e;
              }
            }
          }
          ops.incrementAndGet();
        } catch (Exception e) {
          if (errors.incrementAndGet() <= 10) {
            firstErrors.add(e.toString());
          }
        }
      };
      // Fixed rate: every 10 ms, RATE/100 operations are handed to the workers.
      var unused = ticker.scheduleAtFixedRate(() -> {
        for (int i = 0; i < RATE / 100; i++) {
          workers.execute(op);
        }
      }, 0, 10, TimeUnit.MILLISECONDS);

      var samples = new ArrayList<Sample>();
      long sampleEvery = Math.max(2, SECONDS / 30); // about 30 rows in the report
      var started = Instant.now();
      for (long s = 1; s <= SECONDS; s++) {
        Thread.sleep(1000);
        if (s % sampleEvery == 0 || s == SECONDS) {
          samples.add(new Sample(s, ops.get(), errors.get(), heapAfterFullGc(http, server), rss(server),
              fds(server)));
        }
      }
      ticker.shutdownNow();
      workers.shutdown();
      workers.awaitTermination(60, TimeUnit.SECONDS);
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);

      var report = report(samples, started);
      Files.writeString(Path.of("target", "soak-report.md"), report);
      System.out.print(report);
      assertThat(errors.get()).as("errors: %s", firstErrors).isZero();
      assertThat(ops.get()).as("operations done at %d/s for %d s", RATE, SECONDS)
          .isGreaterThan(RATE * SECONDS * 8 / 10);
      // Flat: the last third's worst is within a margin of the first third's worst.
      int third = Math.max(1, samples.size() / 3);
      var first = samples.subList(0, third);
      var last = samples.subList(samples.size() - third, samples.size());
      assertThat(max(last, Sample::heapAfterGc)).as("heap after GC, last third vs first")
          .isLessThanOrEqualTo(max(first, Sample::heapAfterGc) * 5 / 4 + (32L << 20));
      assertThat(max(last, Sample::rss)).as("RSS, last third vs first")
          .isLessThanOrEqualTo(max(first, Sample::rss) * 5 / 4 + (64L << 20));
      // Open files swing with RocksDB's flushes and compactions (30 or more up and down within a
      // few seconds under this load), so a peak in the last third says nothing; a leak raises
      // the floor. The last third's lowest count must stay within the first third's highest.
      assertThat(min(last, Sample::fds)).as("open files, last third's floor vs first's peak")
          .isLessThanOrEqualTo(max(first, Sample::fds) + 32);
      server.stopAndCheck();
    }
  }

  static long max(List<Sample> samples, java.util.function.ToLongFunction<Sample> f) {
    return samples.stream().mapToLong(f).max().orElse(0);
  }

  static long min(List<Sample> samples, java.util.function.ToLongFunction<Sample> f) {
    return samples.stream().mapToLong(f).min().orElse(0);
  }

  static String report(List<Sample> samples, Instant started) {
    var out = new StringBuilder();
    var last = samples.get(samples.size() - 1);
    out.append(String.format(Locale.ROOT, "Soak: %d s at %d ops/s (60%% HTTP GET, 20%% PUT, 10%% "
        + "FindMissing x100, 10%% ByteStream read), started %s: %d operations, %d errors%n%n",
        SECONDS, RATE, started, last.ops(), last.errors()));
    out.append("| second | operations | errors | heap after full GC (MB) | RSS (MB) | open files |\n");
    out.append("| --- | --- | --- | --- | --- | --- |\n");
    for (var s : samples) {
      out.append(String.format(Locale.ROOT, "| %d | %d | %d | %.1f | %.1f | %d |%n", s.second(), s.ops(),
          s.errors(), s.heapAfterGc() / 1e6, s.rss() / 1e6, s.fds()));
    }
    return out.toString();
  }

  /** A full collection in the server (jcmd GC.run), then its heap use: what stays live. */
  static long heapAfterFullGc(HttpClient http, ServerProcess server) throws Exception {
    var jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    var gc = new ProcessBuilder(jcmd, Long.toString(server.pid()), "GC.run").redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!gc.waitFor(60, TimeUnit.SECONDS) || gc.exitValue() != 0) {
      throw new IllegalStateException("jcmd GC.run failed");
    }
    var metrics = http.send(HttpRequest.newBuilder(URI.create(server.http() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    var m = HEAP.matcher(metrics);
    long sum = 0;
    while (m.find()) {
      sum += (long) Double.parseDouble(m.group(1));
    }
    return sum;
  }

  static long rss(ServerProcess server) throws IOException {
    for (var line : Files.readAllLines(Path.of("/proc", Long.toString(server.pid()), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
      }
    }
    return 0;
  }

  static long fds(ServerProcess server) throws IOException {
    try (var list = Files.list(Path.of("/proc", Long.toString(server.pid()), "fd"))) {
      return list.count();
    }
  }
}
