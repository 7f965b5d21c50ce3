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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC throughput with JWT auth on, Buck2's call shapes: FindMissingBlobs (100 digests per
 * call), BatchUpdate/BatchRead packed to 4,000,000 bytes, ByteStream in 1 MiB messages. One
 * client, server on the same machine. {@code buckcache.bench.seconds} per measurement (1 in CI,
 * where nothing is asserted about speed); results also go to target/bench/grpc.tsv for
 * scripts/bench.
 */
class GrpcBenchTest {
  static final double SECONDS = Double.parseDouble(System.getProperty("buckcache.bench.seconds", "1"));
  @TempDir Path dir;

  static String cli(String... args) throws Exception {
    return ServerProcess.cli(args);
  }

  @Test
  void grpcWithJwt_findMissingBatchesAndByteStream() throws Exception {
    var keys = dir.resolve("keys");
    cli("keygen", "--out", keys.toString());
    var token = cli("token", "issue", "--key", keys.resolve("signing-key.pem").toString(),
        "--subject", "bench", "--scope", "write", "--ttl", "1h");
    var results = new ArrayList<String>();
    try (var server = ServerProcess.serve(dir.resolve("data"), "--auth", "jwt", "--jwt-public-key",
        keys.resolve("verify-key.pem").toString(), "--max-size", "4GB", "--memory-size", "128MB")) {
      var channel = Buck2Client.channel("127.0.0.1", server.grpcPort(), token);
      try {
        var random = new Random(5);
        // BatchUpdate: 16 KiB blobs packed to 4,000,000 bytes per call.
        // Each blob is a slice of a random pool with a counter in its first 8 bytes: new content
        // at the cost of a copy, so the client's random numbers do not cap what is measured.
        var pool = new byte[16 << 20];
        random.nextBytes(pool);
        long blobNo = 0;
        var uploaded = new ArrayList<Digest>();
        long bytes = 0;
        long start = System.nanoTime();
        while (elapsed(start) < SECONDS) {
          var request = BatchUpdateBlobsRequest.newBuilder();
          long batch = 0;
          while (batch + 16384 + 200 <= Buck2Client.BUCK2_BATCH_LIMIT) {
            int at = (int) (blobNo * 16384 % (pool.length - 16384));
            var b = java.util.Arrays.copyOfRange(pool, at, at + 16384);
            java.nio.ByteBuffer.wrap(b).putLong(0, blobNo++);
            var d = Buck2PatternTest.digest(b);
            request.addRequestsBuilder().setDigest(d).setData(ByteString.copyFrom(b));
            uploaded.add(d);
            batch += b.length + 200;
            bytes += b.length;
          }
          var response = ContentAddressableStorageGrpc.newBlockingStub(channel).batchUpdateBlobs(request.build());
          response.getResponsesList().forEach(r -> assertThat(r.getStatus().getCode()).isZero());
        }
        results.add(row("BatchUpdateBlobs, 16 KiB blobs in 4,000,000-byte batches", bytes / elapsed(start) / 1e6, "MB/s"));

        // BatchRead of the same, 4,000,000 bytes per call.
        bytes = 0;
        start = System.nanoTime();
        for (int i = 0; elapsed(start) < SECONDS; i = (i + 240) % Math.max(1, uploaded.size() - 240)) {
          var request = BatchReadBlobsRequest.newBuilder().addAllDigests(
              uploaded.subList(i, Math.min(uploaded.size(), i + 240)));
          for (var r : ContentAddressableStorageGrpc.newBlockingStub(channel).batchReadBlobs(request.build())
              .getResponsesList()) {
            assertThat(r.getStatus().getCode()).isZero();
            bytes += r.getData().size();
          }
        }
        results.add(row("BatchReadBlobs, 4,000,000-byte batches", bytes / elapsed(start) / 1e6, "MB/s"));

        // FindMissingBlobs: half present, half missing, 100 per call.
        long digests = 0;
        start = System.nanoTime();
        while (elapsed(start) < SECONDS) {
          var request = FindMissingBlobsRequest.newBuilder();
          for (int i = 0; i < 50; i++) {
            request.addBlobDigests(uploaded.get(random.nextInt(uploaded.size())));
            request.addBlobDigests(Digest.newBuilder().setHash(UUID.randomUUID().toString().replace("-", "")
                + UUID.randomUUID().toString().replace("-", "")).setSizeBytes(100));
          }
          ContentAddressableStorageGrpc.newBlockingStub(channel).findMissingBlobs(request.build());
          digests += 100;
        }
        results.add(row("FindMissingBlobs, 100 digests per call", digests / elapsed(start), "digests/s"));

        // ByteStream: 64 MiB blobs written in 1 MiB messages, then read.
        var big = new ArrayList<Digest>();
        bytes = 0;
        start = System.nanoTime();
        while (elapsed(start) < SECONDS || big.isEmpty()) {
          var b = new byte[64 << 20];
          random.nextBytes(b);
          write(channel, b);
          big.add(Buck2PatternTest.digest(b));
          bytes += b.length;
        }
        results.add(row("ByteStream write, 64 MiB blobs, 1 MiB messages", bytes / elapsed(start) / 1e6, "MB/s"));
        bytes = 0;
        start = System.nanoTime();
        for (int i = 0; elapsed(start) < SECONDS || i == 0; i++) {
          var d = big.get(i % big.size());
          var it = ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
              .setResourceName("blobs/" + d.getHash() + "/" + d.getSizeBytes()).build());
          while (it.hasNext()) {
            bytes += it.next().getData().size();
          }
        }
        results.add(row("ByteStream read, 64 MiB blobs", bytes / elapsed(start) / 1e6, "MB/s"));
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      server.stopAndCheck();
    }
    var out = Path.of(System.getProperty("buckcache.bench.out", "target/bench"));
    Files.createDirectories(out);
    Files.write(out.resolve("grpc.tsv"), results);
    results.forEach(r -> System.out.println("grpc bench: " + r.replace('\t', ' ')));
    assertThat(results).hasSize(5);
  }

  static double elapsed(long start) {
    return (System.nanoTime() - start) / 1e9;
  }

  static String row(String what, double value, String unit) {
    return String.format(Locale.ROOT, "%s\t%.0f\t%s", what, value, unit);
  }

  static void write(ManagedChannel channel, byte[] data) throws Exception {
    var d = Buck2PatternTest.digest(data);
    assertThat(dev.buckcache.process.ByteStreams.write(channel, d.getHash(), data, 1 << 20, 0))
        .isEqualTo(data.length);
  }
}
