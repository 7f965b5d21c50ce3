package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.clients.Clients;
import dev.buckcache.digest.DigestFunction;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of the server process while 100 clients upload (50 over HTTP, 50 over ByteStream),
 * then: {@code buckcache verify} finds the store whole (every entry complete and matching its
 * digest, accounting exact), the restarted server serves every acknowledged blob exactly, and
 * what was in flight is either absent or exact, never partial.
 */
class KillDuringUploadsTest {
  static final int CLIENTS_PER_PROTOCOL = 50;
  @TempDir Path dir;

  /** One upload: its bytes are regenerated from the seed, so nothing big stays in memory. */
  record Blob(long seed, int size, String hash, boolean grpc) {
    static Blob of(long seed, boolean grpc) {
      var random = new Random(seed);
      int size = 64 * 1024 + random.nextInt(1536 * 1024);
      return new Blob(seed, size, DigestFunction.SHA256.hash(bytes(seed, size)), grpc);
    }

    static byte[] bytes(long seed, int size) {
      var random = new Random(seed);
      random.nextInt(); // the size draw
      var b = new byte[size];
      random.nextBytes(b);
      return b;
    }

    byte[] bytes() {
      return bytes(seed, size);
    }
  }

  @Test
  void kill9During100ConcurrentUploads_storeVerifies_servesOnlyWholeBlobs() throws Exception {
    var data = dir.resolve("data");
    var acked = ConcurrentHashMap.<Blob>newKeySet();
    var inFlight = ConcurrentHashMap.<Blob>newKeySet();
    var stop = new AtomicBoolean();
    var errorsBeforeKill = new AtomicInteger();
    var killed = new AtomicBoolean();
    var workers = new ArrayList<Thread>();
    // 100 uploads of up to 1.6 MB at once each claim up to twice their size from the in-flight
    // budget (queue and writer buffer); the default, a quarter of this 512 MiB heap, would
    // refuse some with 503 / RESOURCE_EXHAUSTED, which this test counts as errors.
    try (var server = ServerProcess.serve(data, "--max-size", "4GB", "--max-inflight-bytes", "256MiB")) {
      int httpPort = URI.create(server.http()).getPort();
      var channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
      for (int w = 0; w < 2 * CLIENTS_PER_PROTOCOL; w++) {
        boolean grpc = w % 2 == 1;
        long base = (long) w << 32;
        var thread = new Thread(() -> {
          for (long i = 0; !stop.get(); i++) {
            var blob = Blob.of(base + i, grpc);
            inFlight.add(blob);
            try {
              if (grpc ? byteStreamWrite(channel, blob) : httpPut(httpPort, blob)) {
                acked.add(blob);
                inFlight.remove(blob);
              }
            } catch (Exception e) {
              if (!killed.get()) {
                errorsBeforeKill.incrementAndGet();
              }
              return; // the server is gone; the blob stays "in flight"
            }
          }
        }, "uploader-" + w);
        workers.add(thread);
        thread.start();
      }
      // Let every client get going, then kill while all 100 have an upload open. gRPC's 50
      // uploads share one HTTP/2 connection, so they finish later than HTTP's 50 connections
      // (after about 50 blobs' worth of bytes each round): wait for some of both.
      long start = System.nanoTime();
      long deadline = start + TimeUnit.SECONDS.toNanos(60);
      while ((acked.size() < 200 || acked.stream().noneMatch(Blob::grpc)
          || acked.stream().allMatch(Blob::grpc)) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      int openAtKill = inFlight.size();
      killed.set(true);
      server.kill();
      stop.set(true);
      for (var t : workers) {
        t.join(30_000);
      }
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      System.out.printf("kill -9 with %d uploads open, %d acknowledged before (%d over gRPC), after %d ms%n",
          openAtKill, acked.size(), acked.stream().filter(Blob::grpc).count(), waited);
      assertThat(errorsBeforeKill.get()).isZero();
      assertThat(acked).hasSizeGreaterThanOrEqualTo(200);
      assertThat(openAtKill).isGreaterThanOrEqualTo(90);
      assertThat(acked.stream().filter(Blob::grpc).count()).isPositive();
      assertThat(acked.stream().filter(b -> !b.grpc()).count()).isPositive();
    }

    // Offline check of the whole store, as an operator would run it after a crash.
    var verify = Clients.run(dir, Map.of(), 300, javaBin(), "-jar", ServerProcess.jar().toString(),
        "verify", "--dir", data.toString());
    System.out.print("verify: " + verify.output());
    assertThat(verify.exitCode()).as(verify.output()).isZero();
    assertThat(verify.output()).contains("healthy");

    try (var server = ServerProcess.serve(data, "--max-size", "4GB")) {
      int httpPort = URI.create(server.http()).getPort();
      for (var blob : acked) {
        assertThat(httpGet(httpPort, blob.hash())).as("acknowledged %s", blob).isEqualTo(blob.bytes());
      }
      int present = 0;
      for (var blob : inFlight) {
        var got = httpGet(httpPort, blob.hash());
        if (got != null) {
          present++;
          assertThat(got).as("an interrupted upload is served whole or not at all").isEqualTo(blob.bytes());
        }
      }
      var channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
      try {
        var some = acked.stream().filter(Blob::grpc).limit(10).toList();
        for (var blob : some) {
          assertThat(ByteStreams.read(channel, blob.hash(), blob.size())).isEqualTo(blob.bytes());
        }
        var fresh = Blob.of(-1, true);
        assertThat(byteStreamWrite(channel, fresh)).isTrue();
        assertThat(httpGet(httpPort, fresh.hash())).isEqualTo(fresh.bytes());
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      System.out.printf("after restart: %d acknowledged blobs exact, %d of %d interrupted uploads "
          + "present (whole)%n", acked.size(), present, inFlight.size());
      server.stopAndCheck();
    }
  }

  static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** PUT in 64 KiB pieces with pauses, so a kill lands mid-body; true on 200. */
  static boolean httpPut(int port, Blob blob) throws IOException, InterruptedException {
    var bytes = blob.bytes();
    try (var socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(60_000);
      var out = socket.getOutputStream();
      out.write(("PUT /cas/" + blob.hash() + " HTTP/1.1\r\nHost: cache\r\nContent-Length: "
          + bytes.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      for (int off = 0; off < bytes.length; off += 65536) {
        out.write(bytes, off, Math.min(65536, bytes.length - off));
        Thread.sleep(2);
      }
      out.flush();
      var status = new String(socket.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
      if (status.length() < 12) {
        throw new IOException("connection closed");
      }
      return status.equals("HTTP/1.1 200");
    }
  }

  /** The blob's bytes, or null on 404. */
  static byte[] httpGet(int port, String hash) throws Exception {
    var response = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + port + "/cas/" + hash)).timeout(Duration.ofSeconds(60)).build(),
        java.net.http.HttpResponse.BodyHandlers.ofByteArray());
    if (response.statusCode() == 404) {
      return null;
    }
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  /** A Buck2-style ByteStream upload in 64 KiB messages with pauses; true when committed. */
  static boolean byteStreamWrite(ManagedChannel channel, Blob blob) throws Exception {
    return ByteStreams.write(channel, blob.hash(), blob.bytes(), 65536, 2) == blob.size();
  }
}
