package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The witness ContainerImageTest relies on sees real peers and flags non-loopback ones. */
class LoopbackOnlyTest {
  @TempDir Path dir;

  @Test
  void peer_procHex_decodesV4AndV6() throws Exception {
    assertThat(LoopbackOnly.peer("0100007F:1F90")).isEqualTo("127.0.0.1:8080");
    assertThat(LoopbackOnly.peer("0100580A:0050")).isEqualTo("10.88.0.1:80");
    assertThat(LoopbackOnly.peer("00000000000000000000000001000000:2384")).isEqualTo("[0:0:0:0:0:0:0:1]:9092");
    assertThat(LoopbackOnly.peer("0000000000000000FFFF00000100007F:1F90")).isEqualTo("127.0.0.1:8080");
  }

  @Test
  void notLoopback_flagsTheBridgeAddress_keepsLoopback() throws Exception {
    assertThat(LoopbackOnly.notLoopback(List.of("127.0.0.1:8080 (jfr)", "127.3.4.5:1 (proc)",
        "[0:0:0:0:0:0:0:1]:9092 (proc)", "10.88.0.1:38080 (proc)")))
        .containsExactly("10.88.0.1:38080 (proc)");
  }

  @Test
  void watch_loopbackConnection_seenByBothWitnesses() throws Exception {
    try (var watch = LoopbackOnly.watch(dir);
        var server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      try (var client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
          var accepted = server.accept()) {
        client.getOutputStream().write(1);
        assertThat(accepted.getInputStream().read()).isEqualTo(1);
        for (int i = 0; i < 200 && watch.samples() < 3; i++) {
          Thread.sleep(10);
        }
      }
      var seen = watch.stop();
      var port = server.getLocalPort();
      assertThat(seen).contains("127.0.0.1:" + port + " (jfr)", "127.0.0.1:" + port + " (proc)");
      assertThat(LoopbackOnly.notLoopback(seen)).isEmpty();
    }
  }
}
