package dev.buckcache.buck2;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import dev.buckcache.process.ServerProcess;
import io.grpc.ConnectivityState;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Buck2 pings every 30 s, also on an idle connection. grpc-java's defaults would answer the
 * third ping without calls with GOAWAY (too_many_pings); buckcache must not.
 */
class Buck2KeepaliveTest {
  @TempDir Path dir;

  @Test
  void idleConnection_pingedEvery30s_threeTimes_noGoaway() throws Exception {
    try (var server = ServerProcess.serve(dir.resolve("data"))) {
      var channel = Buck2Client.channel("127.0.0.1", server.grpcPort());
      try {
        var caps = CapabilitiesGrpc.newBlockingStub(channel);
        caps.getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
        FrameRecorder.clear();
        Thread.sleep(TimeUnit.SECONDS.toMillis(95)); // idle: three 30 s keepalive intervals
        var frames = FrameRecorder.frames();
        long pings = frames.stream()
            .filter(f -> f.contains("OUTBOUND PING") && f.contains("ack=false")).count();
        long acks = frames.stream()
            .filter(f -> f.contains("INBOUND PING") && f.contains("ack=true")).count();
        assertThat(pings).as("keepalive pings sent: %s", frames).isGreaterThanOrEqualTo(3);
        assertThat(acks).as("pings answered").isGreaterThanOrEqualTo(3);
        assertThat(frames).noneMatch(f -> f.contains("GO_AWAY"));
        assertThat(channel.getState(false)).isEqualTo(ConnectivityState.READY);
        caps.getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
        System.out.println("buck2 keepalive: " + pings + " pings in 95 s idle, " + acks + " acks, no GOAWAY");
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      server.stopAndCheck();
    }
  }
}
