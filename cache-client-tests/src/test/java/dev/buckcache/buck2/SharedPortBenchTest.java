package dev.buckcache.buck2;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What gRPC on the HTTP port costs against the dedicated gRPC port, in one run against one
 * server: FindMissingBlobs (100 digests per call; one caller, and 8 callers sharing the
 * connection as Buck2 does) and ByteStream reads of 64 MiB blobs. Rounds alternate which port
 * goes first; the medians and their ratio (shared / dedicated) go to target/bench/shared-port.tsv
 * for scripts/bench. {@code buckcache.bench.seconds} per measurement, {@code buckcache.bench.rounds}
 * rounds (1 s and 1 round in CI, where nothing is asserted about speed).
 */
class SharedPortBenchTest {
  static final double SECONDS = GrpcBenchTest.SECONDS;
  static final int ROUNDS = Integer.getInteger("buckcache.bench.rounds", 1);
  @TempDir Path dir;

  /** One measurement: a name, and what it does on a channel in the time given (units per s). */
  record Measure(String what, String unit, ToDoubleFunction<ManagedChannel> run) {}

  @Test
  void sharedPortVsDedicated_findMissingAndByteStreamRead() throws Exception {
    try (var server = ServerProcess.serve(dir.resolve("data"), "--max-size", "4GB",
        "--memory-size", "128MB")) {
      var dedicated = Buck2Client.channel("127.0.0.1", server.grpcPort());
      var shared = Buck2Client.channel("127.0.0.1", server.httpPort());
      try {
        var random = new Random(11);
        var present = upload(dedicated, random);
        var big = new ArrayList<Digest>();
        for (int i = 0; i < 2; i++) {
          var b = new byte[64 << 20];
          random.nextBytes(b);
          GrpcBenchTest.write(dedicated, b);
          big.add(Buck2PatternTest.digest(b));
        }
        var measures = List.of(
            new Measure("FindMissingBlobs, 100 digests per call, 1 caller", "digests/s",
                c -> findMissing(c, present, 1)),
            new Measure("FindMissingBlobs, 100 digests per call, 8 callers", "digests/s",
                c -> findMissing(c, present, 8)),
            new Measure("ByteStream read, 64 MiB blobs", "MB/s", c -> read(c, big)));
        var rows = new ArrayList<String>();
        for (var m : measures) {
          var unused = m.run().applyAsDouble(dedicated) + m.run().applyAsDouble(shared); // warm-up
          var own = new ArrayList<Double>();
          var one = new ArrayList<Double>();
          for (int r = 0; r < ROUNDS; r++) {
            if (r % 2 == 0) {
              own.add(m.run().applyAsDouble(dedicated));
              one.add(m.run().applyAsDouble(shared));
            } else {
              one.add(m.run().applyAsDouble(shared));
              own.add(m.run().applyAsDouble(dedicated));
            }
          }
          double a = median(own);
          double b = median(one);
          rows.add(String.format(Locale.ROOT, "%s\t%.0f\t%.0f\t%s\t%.3f", m.what(), a, b, m.unit(), b / a));
        }
        var out = Path.of(System.getProperty("buckcache.bench.out", "target/bench"));
        Files.createDirectories(out);
        Files.write(out.resolve("shared-port.tsv"), rows);
        rows.forEach(r -> System.out.println("shared port bench (dedicated, shared, unit, ratio): "
            + r.replace('\t', ' ')));
        assertThat(rows).hasSize(3);
      } finally {
        dedicated.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        shared.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      server.stopAndCheck();
    }
  }

  private static List<Digest> upload(ManagedChannel channel, Random random) {
    var digests = new ArrayList<Digest>();
    for (int batch = 0; batch < 4; batch++) {
      var request = BatchUpdateBlobsRequest.newBuilder();
      for (int i = 0; i < 500; i++) {
        var b = new byte[1024];
        random.nextBytes(b);
        var d = Buck2PatternTest.digest(b);
        request.addRequestsBuilder().setDigest(d).setData(ByteString.copyFrom(b));
        digests.add(d);
      }
      ContentAddressableStorageGrpc.newBlockingStub(channel).batchUpdateBlobs(request.build())
          .getResponsesList().forEach(r -> assertThat(r.getStatus().getCode()).isZero());
    }
    return digests;
  }

  /** Digests checked per second by {@code callers} threads, half of them present. */
  private static double findMissing(ManagedChannel channel, List<Digest> present, int callers) {
    var pool = Executors.newFixedThreadPool(callers);
    try {
      var tasks = new ArrayList<Callable<Long>>();
      long start = System.nanoTime();
      for (int t = 0; t < callers; t++) {
        var random = new Random(t);
        tasks.add(() -> {
          long n = 0;
          var stub = ContentAddressableStorageGrpc.newBlockingStub(channel);
          while (GrpcBenchTest.elapsed(start) < SECONDS) {
            var request = FindMissingBlobsRequest.newBuilder();
            for (int i = 0; i < 50; i++) {
              request.addBlobDigests(present.get(random.nextInt(present.size())));
              request.addBlobDigests(Digest.newBuilder().setHash((UUID.randomUUID().toString()
                  + UUID.randomUUID()).replace("-", "")).setSizeBytes(100));
            }
            assertThat(stub.findMissingBlobs(request.build()).getMissingBlobDigestsCount()).isEqualTo(50);
            n += 100;
          }
          return n;
        });
      }
      long total = 0;
      for (var f : pool.invokeAll(tasks)) {
        total += f.get();
      }
      return total / GrpcBenchTest.elapsed(start);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    } finally {
      pool.shutdownNow();
    }
  }

  /** MB/s reading the blobs one after another, one stream at a time. */
  private static double read(ManagedChannel channel, List<Digest> blobs) {
    long bytes = 0;
    long start = System.nanoTime();
    for (int i = 0; GrpcBenchTest.elapsed(start) < SECONDS || i == 0; i++) {
      var d = blobs.get(i % blobs.size());
      var it = ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
          .setResourceName("blobs/" + d.getHash() + "/" + d.getSizeBytes()).build());
      long n = 0;
      while (it.hasNext()) {
        n += it.next().getData().size();
      }
      assertThat(n).isEqualTo(d.getSizeBytes());
      bytes += n;
    }
    return bytes / GrpcBenchTest.elapsed(start) / 1e6;
  }

  private static double median(List<Double> values) {
    var sorted = values.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }
}
