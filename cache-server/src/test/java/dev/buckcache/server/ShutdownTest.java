package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.digest.DigestFunction;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stopping is bounded by one grace period shared by every step: with an upload stuck on each
 * front end and storage work that does not finish, close takes about the grace period, not one
 * grace per step (gRPC, HTTP, executor one after another took more than twice as long).
 */
class ShutdownTest {
  private static final long GRACE_MS = 1500;
  @TempDir Path dir;

  @Test
  void close_withStuckCallsOnBothFrontEnds_takesOneGracePeriodNotOnePerStep() throws Exception {
    var config = new ConfigLoader(Map.of(), 4L << 30).load(null, Map.of(
        "storage.dir", dir.toString(), "storage.max_size", "64MB", "storage.memory_size", "8MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0",
        "server.shutdown_grace", GRACE_MS + "ms"));
    var server = BuckcacheServer.start(config);
    var channel = NettyChannelBuilder.forAddress(server.grpcAddress()).usePlaintext().build();
    try (var socket = new Socket("127.0.0.1", server.httpAddress().getPort())) {
      // HTTP: a PUT whose body stops after 1,000 of 1,000,000 bytes.
      OutputStream out = socket.getOutputStream();
      out.write(("PUT /cas/" + "ab".repeat(32) + " HTTP/1.1\r\nHost: x\r\n"
          + "Content-Length: 1000000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[1000]);
      out.flush();
      // gRPC: a ByteStream write that never finishes.
      var stream = ByteStreamGrpc.newStub(channel).write(new StreamObserver<WriteResponse>() {
        @Override public void onNext(WriteResponse v) {}
        @Override public void onError(Throwable t) {}
        @Override public void onCompleted() {}
      });
      var data = new byte[1_000_000];
      var hash = DigestFunction.SHA256.hash(data);
      stream.onNext(WriteRequest.newBuilder()
          .setResourceName("uploads/" + UUID.randomUUID() + "/blobs/" + hash + "/" + data.length)
          .setWriteOffset(0).setData(ByteString.copyFrom(data, 0, 1000)).build());
      // Storage work that does not finish in time (a writer waiting for room, a slow disk).
      var stuck = server.executor().submit(() -> {
        Thread.sleep(60_000);
        return null;
      });
      Thread.sleep(300); // both uploads reach the server
      long started = System.nanoTime();
      server.close();
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      System.out.printf("close with a stuck HTTP upload and a stuck ByteStream write: %d ms "
          + "(grace %d ms)%n", ms, GRACE_MS);
      // One shared deadline: about one grace period. Steps one after another took 2x and more.
      assertThat(stuck).isCompletedExceptionally();
      assertThat(ms).isLessThan(2 * GRACE_MS);
      assertThat(ms).isGreaterThanOrEqualTo(GRACE_MS - 100);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.close();
    }
  }
  @Test
  void close_withRelayedGrpcOnTheHttpPort_closesThemWithinTheGrace_andStopsTheLocalServer()
      throws Exception {
    var config = new ConfigLoader(Map.of(), 4L << 30).load(null, Map.of(
        "storage.dir", dir.toString(), "storage.max_size", "64MB", "storage.memory_size", "8MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0",
        "server.shutdown_grace", GRACE_MS + "ms"));
    var server = BuckcacheServer.start(config);
    int port = server.httpAddress().getPort();
    var idle = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    var busy = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    var failed = new java.util.concurrent.CompletableFuture<Throwable>();
    try {
      io.grpc.health.v1.HealthGrpc.newBlockingStub(idle)
          .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
      // A relayed ByteStream write that never finishes.
      var stream = ByteStreamGrpc.newStub(busy).write(new StreamObserver<WriteResponse>() {
        @Override public void onNext(WriteResponse v) {}
        @Override public void onError(Throwable t) {
          failed.complete(t);
        }
        @Override public void onCompleted() {}
      });
      var data = new byte[1_000_000];
      var hash = DigestFunction.SHA256.hash(data);
      stream.onNext(WriteRequest.newBuilder()
          .setResourceName("uploads/" + UUID.randomUUID() + "/blobs/" + hash + "/" + data.length)
          .setWriteOffset(0).setData(ByteString.copyFrom(data, 0, 1000)).build());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (server.relayedConnections() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(server.relayedConnections()).isEqualTo(2);
      Thread.sleep(300); // the write reaches the service
      long started = System.nanoTime();
      server.close();
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      System.out.printf("close with a stuck relayed ByteStream write and an idle relayed "
          + "connection: %d ms (grace %d ms)%n", ms, GRACE_MS);
      assertThat(ms).isLessThan(2 * GRACE_MS);
      assertThat(server.relayedConnections()).isZero();
      assertThat(failed.get(5, TimeUnit.SECONDS)).isInstanceOf(io.grpc.StatusRuntimeException.class);
      assertThat(server.grpcTerminated()).isTrue();
    } finally {
      idle.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      busy.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.close();
    }
  }
}
