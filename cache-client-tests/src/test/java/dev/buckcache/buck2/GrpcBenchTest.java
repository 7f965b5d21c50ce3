package dev.buckcache.buck2;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.protobuf.ByteString;
import dev.buckcache.process.ServerProcess;
import io.grpc.ManagedChannel;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC throughput, Buck2's call shapes: FindMissingBlobs (100 digests per call, half present, from
 * {@link #CALLERS} callers over {@link #CONNECTIONS} connections), BatchUpdate/BatchRead packed to
 * 4,000,000 bytes (from one caller, then from {@link #CONNECTIONS} at once, as a build's
 * finished actions upload), ByteStream in 1 MiB messages; one caller for the rest. buckcache runs with JWT
 * auth on. With {@code BAZEL_REMOTE} naming a bazel-remote binary (scripts/bench passes it
 * through; nothing here builds one), bazel-remote runs beside it on its own gRPC port and the
 * same client measures both, alternating which goes first, {@code buckcache.bench.rounds}
 * rounds, medians. {@code buckcache.bench.seconds} per measurement (1 in CI, where nothing is
 * asserted about speed); results also go to target/bench/grpc.tsv for scripts/bench.
 */
class GrpcBenchTest {
  static final double SECONDS = Double.parseDouble(System.getProperty("buckcache.bench.seconds", "1"));
  static final int ROUNDS = Integer.getInteger("buckcache.bench.rounds", 1);
  static final int CALLERS = 16;
  static final int CONNECTIONS = 4;
  static final String[] WHAT = {
    "BatchUpdateBlobs, 16 KiB blobs in 4,000,000-byte batches",
    "BatchReadBlobs, 4,000,000-byte batches",
    "FindMissingBlobs, 100 digests per call, " + CALLERS + " callers on " + CONNECTIONS
        + " connections",
    "ByteStream write, 64 MiB blobs, 1 MiB messages (time in the write calls)",
    "ByteStream read, 64 MiB blobs",
    "BatchUpdateBlobs, 16 KiB blobs in 4,000,000-byte batches, " + CONNECTIONS + " callers on "
        + CONNECTIONS + " connections",
  };
  static final String[] UNIT = {"MB/s", "MB/s", "digests/s", "MB/s", "MB/s", "MB/s"};
  @TempDir Path dir;

  static String cli(String... args) throws Exception {
    return ServerProcess.cli(args);
  }

  @Test
  void grpc_findMissingBatchesAndByteStream_besideBazelRemoteWhenGiven() throws Exception {
    var keys = dir.resolve("keys");
    cli("keygen", "--out", keys.toString());
    var token = cli("token", "issue", "--key", keys.resolve("signing-key.pem").toString(),
        "--subject", "bench", "--scope", "write", "--ttl", "1h");
    var peerBinary = System.getenv("BAZEL_REMOTE");
    var results = new ArrayList<String>();
    try (var server = ServerProcess.serve(dir.resolve("data"), "--auth", "jwt", "--jwt-public-key",
        keys.resolve("verify-key.pem").toString(), "--max-size", "4GB", "--memory-size", "128MB");
        var peer = peerBinary == null || peerBinary.isBlank() ? null
            : BazelRemote.start(Path.of(peerBinary), dir.resolve("bazel-remote"))) {
      var targets = new ArrayList<Target>();
      targets.add(new Target("buckcache", "127.0.0.1", server.grpcPort(), token, 1));
      if (peer != null) {
        targets.add(new Target("bazel-remote", "127.0.0.1", peer.grpcPort, null, 2));
      }
      try {
        var measured = new ArrayList<List<double[]>>();
        targets.forEach(t -> measured.add(new ArrayList<>()));
        for (int round = 0; round < ROUNDS; round++) {
          for (int k = 0; k < targets.size(); k++) {
            int at = (k + round) % targets.size(); // alternate which goes first
            measured.get(at).add(targets.get(at).measure());
          }
        }
        for (int m = 0; m < WHAT.length; m++) {
          var row = new StringBuilder(WHAT[m]);
          for (int t = 0; t < 2; t++) {
            row.append('\t');
            if (t < targets.size()) {
              int metric = m;
              row.append(String.format(Locale.ROOT, "%.0f",
                  median(measured.get(t).stream().mapToDouble(v -> v[metric]).toArray())));
            } else {
              row.append('-');
            }
          }
          results.add(row.append('\t').append(UNIT[m]).toString());
        }
      } finally {
        for (var t : targets) {
          t.close();
        }
      }
      server.stopAndCheck();
    }
    var out = Path.of(System.getProperty("buckcache.bench.out", "target/bench"));
    Files.createDirectories(out);
    Files.write(out.resolve("grpc.tsv"), results);
    results.forEach(r -> System.out.println("grpc bench (buckcache, bazel-remote): "
        + r.replace('\t', ' ')));
    assertThat(results).hasSize(WHAT.length);
  }

  /** One server under test: its channels and what has been uploaded to it. */
  static final class Target {
    final String name;
    final List<ManagedChannel> channels = new ArrayList<>();
    final Random random;
    final byte[] pool = new byte[16 << 20];
    final List<Digest> uploaded = new ArrayList<>();
    final List<Digest> big = new ArrayList<>();
    final java.util.concurrent.atomic.AtomicLong blobNo = new java.util.concurrent.atomic.AtomicLong();

    Target(String name, String host, int port, String token, long seed) {
      this.name = name;
      for (int i = 0; i < CONNECTIONS; i++) {
        channels.add(Buck2Client.channel(host, port, token));
      }
      random = new Random(seed);
      random.nextBytes(pool);
    }

    /** One round: each of {@link #WHAT}, in order. */
    double[] measure() throws Exception {
      var channel = channels.get(0);
      var result = new double[WHAT.length];
      // Each round reads what it wrote: an earlier round's may have been evicted since.
      uploaded.clear();
      big.clear();
      // BatchUpdate: 16 KiB blobs packed to 4,000,000 bytes per call, one caller (the many
      // callers' measurement comes last, so the others see the same store as before).
      result[0] = batchUpdates(1);

      // BatchRead of the same, 4,000,000 bytes per call.
      long bytes = 0;
      long start = System.nanoTime();
      for (int i = 0; elapsed(start) < SECONDS; i = (i + 240) % Math.max(1, uploaded.size() - 240)) {
        var request = BatchReadBlobsRequest.newBuilder().addAllDigests(
            uploaded.subList(i, Math.min(uploaded.size(), i + 240)));
        for (var r : ContentAddressableStorageGrpc.newBlockingStub(channel)
            .batchReadBlobs(request.build()).getResponsesList()) {
          assertThat(r.getStatus().getCode()).as(name + " " + r.getStatus()).isZero();
          bytes += r.getData().size();
        }
      }
      result[1] = bytes / elapsed(start) / 1e6;

      // FindMissingBlobs: 100 per call, half present and half missing, from several callers at
      // once (a build's many actions), requests built beforehand so the client measures the server.
      var requests = new ArrayList<FindMissingBlobsRequest>();
      for (int r = 0; r < 64; r++) {
        var request = FindMissingBlobsRequest.newBuilder();
        for (int i = 0; i < 50; i++) {
          request.addBlobDigests(uploaded.get(random.nextInt(uploaded.size())));
          request.addBlobDigests(Digest.newBuilder().setHash(UUID.randomUUID().toString()
              .replace("-", "") + UUID.randomUUID().toString().replace("-", "")).setSizeBytes(100));
        }
        requests.add(request.build());
      }
      var callers = Executors.newFixedThreadPool(CALLERS);
      try {
        var calls = new ArrayList<Callable<Long>>();
        long begin = System.nanoTime();
        for (int c = 0; c < CALLERS; c++) {
          var stub = ContentAddressableStorageGrpc.newBlockingStub(channels.get(c % CONNECTIONS));
          int first = c;
          calls.add(() -> {
            long digests = 0;
            for (int i = first; elapsed(begin) < SECONDS; i++) {
              var response = stub.findMissingBlobs(requests.get(i % requests.size()));
              assertThat(response.getMissingBlobDigestsCount()).as(name).isEqualTo(50);
              digests += 100;
            }
            return digests;
          });
        }
        long digests = 0;
        for (var f : callers.invokeAll(calls)) {
          digests += f.get();
        }
        result[2] = digests / elapsed(begin);
      } finally {
        callers.shutdownNow();
      }

      // ByteStream: 64 MiB blobs written in 1 MiB messages, then read. Only the writes are
      // timed: making a new blob and hashing it (the client's work) is not.
      bytes = 0;
      long writing = 0;
      start = System.nanoTime();
      var content = new byte[64 << 20];
      random.nextBytes(content);
      for (int n = 0; elapsed(start) < SECONDS || n == 0; n++) {
        var b = content.clone();
        java.nio.ByteBuffer.wrap(b).putLong(0, blobNo.getAndIncrement());
        var d = Buck2PatternTest.digest(b);
        long began = System.nanoTime();
        assertThat(dev.buckcache.process.ByteStreams.write(channel, d.getHash(), b, 1 << 20, 0))
            .as(name).isEqualTo(b.length);
        writing += System.nanoTime() - began;
        big.add(d);
        bytes += b.length;
      }
      result[3] = bytes / (writing / 1e9) / 1e6;
      bytes = 0;
      start = System.nanoTime();
      for (int i = 0; elapsed(start) < SECONDS || i == 0; i++) {
        // The newest eight (512 MiB): a round writes gigabytes, and eviction takes the oldest.
        var d = big.get(big.size() - 1 - i % Math.min(8, big.size()));
        var it = ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
            .setResourceName("blobs/" + d.getHash() + "/" + d.getSizeBytes()).build());
        long got = 0;
        while (it.hasNext()) {
          got += it.next().getData().size();
        }
        assertThat(got).as(name).isEqualTo(d.getSizeBytes());
        bytes += got;
      }
      result[4] = bytes / elapsed(start) / 1e6;
      result[5] = batchUpdates(CONNECTIONS);
      return result;
    }

    /**
     * MB/s of BatchUpdate from {@code callers} callers, each on its own connection, for
     * {@link #SECONDS}. Each blob is a slice of a random pool with a counter in its first 8
     * bytes: new content at the cost of a copy, so the client's random numbers do not cap what
     * is measured.
     */
    double batchUpdates(int callers) throws Exception {
      var pool = Executors.newFixedThreadPool(callers);
      try {
        var calls = new ArrayList<Callable<Long>>();
        long start = System.nanoTime();
        for (int c = 0; c < callers; c++) {
          var stub = ContentAddressableStorageGrpc.newBlockingStub(channels.get(c % CONNECTIONS));
          calls.add(() -> {
            long bytes = 0;
            while (elapsed(start) < SECONDS) {
              var request = BatchUpdateBlobsRequest.newBuilder();
              var digests = new ArrayList<Digest>();
              long batch = 0;
              while (batch + 16384 + 200 <= Buck2Client.BUCK2_BATCH_LIMIT) {
                long no = blobNo.getAndIncrement();
                int at = (int) (no * 16384 % (this.pool.length - 16384));
                var b = Arrays.copyOfRange(this.pool, at, at + 16384);
                java.nio.ByteBuffer.wrap(b).putLong(0, no);
                var d = Buck2PatternTest.digest(b);
                request.addRequestsBuilder().setDigest(d).setData(ByteString.copyFrom(b));
                digests.add(d);
                batch += b.length + 200;
                bytes += b.length;
              }
              var response = stub.batchUpdateBlobs(request.build());
              response.getResponsesList().forEach(r -> assertThat(r.getStatus().getCode())
                  .as(name + " " + r.getStatus()).isZero());
              synchronized (uploaded) {
                uploaded.addAll(digests);
              }
            }
            return bytes;
          });
        }
        long total = 0;
        for (var f : pool.invokeAll(calls)) {
          total += f.get();
        }
        return total / elapsed(start) / 1e6;
      } finally {
        pool.shutdownNow();
      }
    }

    void close() throws InterruptedException {
      for (var c : channels) {
        c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  /** bazel-remote from a binary someone built, gRPC on a free loopback port, HTTP too. */
  static final class BazelRemote implements AutoCloseable {
    final Process process;
    final int grpcPort;

    private BazelRemote(Process process, int grpcPort) {
      this.process = process;
      this.grpcPort = grpcPort;
    }

    static BazelRemote start(Path binary, Path work) throws Exception {
      Files.createDirectories(work);
      int grpc = freePort();
      int http = freePort();
      var process = new ProcessBuilder(binary.toString(), "--dir", work.resolve("data").toString(),
          "--max_size", "8", "--grpc_address", "127.0.0.1:" + grpc,
          "--http_address", "127.0.0.1:" + http)
          .redirectErrorStream(true).redirectOutput(work.resolve("bazel-remote.log").toFile())
          .start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (true) {
        try (var s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", grpc), 200);
          return new BazelRemote(process, grpc);
        } catch (java.io.IOException e) {
          if (!process.isAlive() || System.nanoTime() > deadline) {
            process.destroyForcibly();
            throw new IllegalStateException("bazel-remote did not open port " + grpc + ": "
                + Files.readString(work.resolve("bazel-remote.log")), e);
          }
          Thread.sleep(50);
        }
      }
    }

    static int freePort() throws java.io.IOException {
      try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        return s.getLocalPort();
      }
    }

    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  static double median(double[] values) {
    var sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  static double elapsed(long start) {
    return (System.nanoTime() - start) / 1e9;
  }

  static void write(ManagedChannel channel, byte[] data) throws Exception {
    var d = Buck2PatternTest.digest(data);
    assertThat(dev.buckcache.process.ByteStreams.write(channel, d.getHash(), data, 1 << 20, 0))
        .isEqualTo(data.length);
  }
}
