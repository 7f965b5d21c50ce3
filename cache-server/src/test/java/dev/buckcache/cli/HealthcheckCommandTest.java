package dev.buckcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.auth.Keys;
import dev.buckcache.auth.TestCerts;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.server.BuckcacheServer;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HealthcheckCommandTest {
  @TempDir Path dir;

  @Test
  void defaultUrl_followsTheServersAddressAndTls() {
    assertThat(HealthcheckCommand.defaultUrl(Map.of()))
        .hasToString("http://127.0.0.1:8080/healthz");
    assertThat(HealthcheckCommand.defaultUrl(Map.of("BUCKCACHE_HTTP_ADDRESS", "0.0.0.0:9000")))
        .hasToString("http://127.0.0.1:9000/healthz");
    assertThat(HealthcheckCommand.defaultUrl(Map.of("BUCKCACHE_HTTP_ADDRESS", "[::]:8443",
        "BUCKCACHE_TLS_CERT", "/etc/buckcache/cert.pem")))
        .hasToString("https://127.0.0.1:8443/healthz");
  }

  @Test
  void runningServer_exitsZero_closedPort_exitsOne() throws Exception {
    var flags = Map.of("storage.dir", dir.resolve("store").toString(), "storage.max_size", "64MB",
        "storage.memory_size", "8MB", "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0");
    try (var server = BuckcacheServer.start(new ConfigLoader(Map.of(), 4L << 30).load(null, flags))) {
      var url = "http://127.0.0.1:" + server.httpAddress().getPort() + "/healthz";
      assertThat(Main.run("healthcheck", "--url", url)).isZero();
      assertThat(Main.run("healthcheck", "--url", url.replace("/healthz", "/no-such-page")))
          .isEqualTo(Main.EXIT_FAILURE);
    }
    int closed;
    try (var socket = new ServerSocket(0)) {
      closed = socket.getLocalPort();
    }
    assertThat(Main.run("healthcheck", "--url", "http://127.0.0.1:" + closed + "/healthz", "--timeout", "2"))
        .isEqualTo(Main.EXIT_FAILURE);
  }

  @Test
  void tlsServer_withItsOwnCa_isHealthyOnLoopback() throws Exception {
    var certs = new TestCerts();
    var keys = Keys.generateEs256();
    var cert = dir.resolve("server.pem");
    var key = dir.resolve("server-key.pem");
    TestCerts.write(cert, certs.server(keys, 7));
    TestCerts.write(key, keys);
    var flags = Map.of("storage.dir", dir.resolve("store").toString(), "storage.max_size", "64MB",
        "storage.memory_size", "8MB", "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0",
        "tls.cert", cert.toString(), "tls.key", key.toString());
    try (var server = BuckcacheServer.start(new ConfigLoader(Map.of(), 4L << 30).load(null, flags))) {
      var port = server.httpAddress().getPort();
      assertThat(Main.run("healthcheck", "--url", "https://127.0.0.1:" + port + "/healthz")).isZero();
      assertThat(Main.run("healthcheck", "--url", "http://127.0.0.1:" + port + "/healthz", "--timeout", "2"))
          .isEqualTo(Main.EXIT_FAILURE);
    }
  }
}
