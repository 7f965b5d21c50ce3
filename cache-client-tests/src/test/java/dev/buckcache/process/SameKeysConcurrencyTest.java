package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import dev.buckcache.digest.DigestFunction;
import io.grpc.netty.NettyChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 16 clients PUT and GET the same 160 keys (about 100 MB of blobs) in a 40 MB store, over HTTP,
 * ByteStream and BatchRead, so eviction runs all along: every read is a miss or the exact bytes.
 */
class SameKeysConcurrencyTest {
  static final int KEYS = 160;
  @TempDir Path dir;

  static byte[] blob(int key) {
    var random = new Random(key);
    var b = new byte[128 * 1024 + random.nextInt(1024 * 1024)];
    random.nextBytes(b);
    return b;
  }

  @Test
  void putAndGetSameKeys_whileEvicting_everyReadIsMissOrExact() throws Exception {
    var blobs = new byte[KEYS][];
    var hashes = new String[KEYS];
    for (int k = 0; k < KEYS; k++) {
      blobs[k] = blob(k);
      hashes[k] = DigestFunction.SHA256.hash(blobs[k]);
    }
    try (var server = ServerProcess.serve(dir.resolve("data"), "--max-size", "40MiB",
        "--memory-size", "4MB")) {
      var channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext()
          .maxInboundMessageSize(32 << 20).build();
      var http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      var failures = new ConcurrentLinkedQueue<String>();
      var hits = new AtomicInteger();
      var misses = new AtomicInteger();
      var puts = new AtomicInteger();
      var threads = new ArrayList<Thread>();
      for (int t = 0; t < 16; t++) {
        var random = new Random(t);
        threads.add(new Thread(() -> {
          try {
            for (int op = 0; op < 250 && failures.isEmpty(); op++) {
              int k = random.nextInt(KEYS);
              var uri = URI.create(server.http() + "/cas/" + hashes[k]);
              switch (random.nextInt(4)) {
                case 0 -> {
                  var r = http.send(HttpRequest.newBuilder(uri).PUT(HttpRequest.BodyPublishers
                      .ofByteArray(blobs[k])).build(), HttpResponse.BodyHandlers.ofString());
                  if (r.statusCode() != 200) {
                    failures.add("PUT " + k + ": " + r.statusCode() + " " + r.body());
                  }
                  puts.incrementAndGet();
                }
                case 1 -> {
                  var r = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofByteArray());
                  check(r.statusCode() == 404 ? null : r.statusCode() == 200 ? r.body() : new byte[0],
                      blobs[k], "HTTP GET " + k + " (" + r.statusCode() + ")", failures, hits, misses);
                }
                case 2 -> {
                  byte[] got;
                  try {
                    got = ByteStreams.read(channel, hashes[k], blobs[k].length);
                  } catch (io.grpc.StatusRuntimeException e) {
                    if (e.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) {
                      throw e;
                    }
                    got = null;
                  }
                  check(got, blobs[k], "ByteStream read " + k, failures, hits, misses);
                }
                default -> {
                  var response = ContentAddressableStorageGrpc.newBlockingStub(channel)
                      .batchReadBlobs(BatchReadBlobsRequest.newBuilder().addDigests(Digest.newBuilder()
                          .setHash(hashes[k]).setSizeBytes(blobs[k].length)).build()).getResponses(0);
                  check(response.getStatus().getCode() == 5 ? null : response.getData().toByteArray(),
                      blobs[k], "BatchRead " + k + " (" + response.getStatus() + ")", failures, hits, misses);
                }
              }
            }
          } catch (Exception e) {
            failures.add(e.toString());
          }
        }, "client-" + t));
      }
      threads.forEach(Thread::start);
      for (var t : threads) {
        t.join(TimeUnit.MINUTES.toMillis(5));
      }
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      var status = http.send(HttpRequest.newBuilder(URI.create(server.http() + "/status")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      var evictions = Pattern.compile("\"Evictions\":(\\d+)").matcher(status);
      assertThat(evictions.find()).isTrue();
      System.out.printf("same keys: %d puts, %d exact hits, %d misses, %s evictions, no wrong bytes%n",
          puts.get(), hits.get(), misses.get(), evictions.group(1));
      assertThat(failures).isEmpty();
      assertThat(Long.parseLong(evictions.group(1))).as("eviction ran during the test").isPositive();
      assertThat(hits.get()).isPositive();
      server.stopAndCheck();
    }
  }

  private static void check(byte[] got, byte[] expected, String what,
      ConcurrentLinkedQueue<String> failures, AtomicInteger hits, AtomicInteger misses) {
    if (got == null) {
      misses.incrementAndGet();
    } else if (java.util.Arrays.equals(got, expected)) {
      hits.incrementAndGet();
    } else {
      failures.add(what + ": " + got.length + " bytes that are not the blob");
    }
  }
}
