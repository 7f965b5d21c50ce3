package dev.buckcache.buck2;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import dev.buckcache.process.ServerProcess;
import io.grpc.ConnectivityState;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Buck2 pings every 30 s, also on an idle connection. grpc-java's defaults would answer the
 * third ping without calls with GOAWAY (too_many_pings); buckcache must not, on the gRPC port
 * and on the HTTP port (which relays gRPC to the same server settings).
 */
class Buck2KeepaliveTest {
  @TempDir Path dir;

  @Test
  void idleConnections_onBothPorts_pingedEvery30s_threeTimes_noGoaway() throws Exception {
    try (var server = ServerProcess.serve(dir.resolve("data"))) {
      var ports = List.of(server.grpcPort(), server.httpPort());
      var channels = ports.stream().map(p -> Buck2Client.channel("127.0.0.1", p)).toList();
      try {
        for (var channel : channels) {
          CapabilitiesGrpc.newBlockingStub(channel).getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
        }
        FrameRecorder.clear();
        Thread.sleep(TimeUnit.SECONDS.toMillis(95)); // idle: three 30 s keepalive intervals
        var frames = FrameRecorder.frames();
        assertThat(frames).noneMatch(f -> f.contains("GO_AWAY"));
        for (int i = 0; i < ports.size(); i++) {
          // The frame log names the channel, remote address included.
          var peer = ":" + ports.get(i) + "]";
          long pings = frames.stream().filter(f -> f.contains(peer))
              .filter(f -> f.contains("OUTBOUND PING") && f.contains("ack=false")).count();
          long acks = frames.stream().filter(f -> f.contains(peer))
              .filter(f -> f.contains("INBOUND PING") && f.contains("ack=true")).count();
          assertThat(pings).as("keepalive pings sent to %s: %s", ports.get(i), frames).isGreaterThanOrEqualTo(3);
          assertThat(acks).as("pings answered by %s", ports.get(i)).isGreaterThanOrEqualTo(3);
          assertThat(channels.get(i).getState(false)).isEqualTo(ConnectivityState.READY);
          CapabilitiesGrpc.newBlockingStub(channels.get(i)).getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
          System.out.println("buck2 keepalive on port " + ports.get(i) + ": " + pings
              + " pings in 95 s idle, " + acks + " acks, no GOAWAY");
        }
      } finally {
        for (var channel : channels) {
          channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
      server.stopAndCheck();
    }
  }
}
