package dev.buckcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.auth.Keys;
import dev.buckcache.auth.TestCerts;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.server.BuckcacheServer;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class HealthcheckCommandTest {
  @TempDir Path dir;

  @Test
  void defaultUrl_followsTheServersAddressAndTls() throws Exception {
    var cert = Files.writeString(dir.resolve("cert.pem"), "unread here");
    assertThat(HealthcheckCommand.defaultUrl(config(Map.of(), Map.of())))
        .hasToString("http://127.0.0.1:8080/healthz");
    assertThat(HealthcheckCommand.defaultUrl(config(Map.of("BUCKCACHE_HTTP_ADDRESS", "0.0.0.0:9000",
        "BUCKCACHE_INSECURE_NO_AUTH", "true"), Map.of())))
        .hasToString("http://127.0.0.1:9000/healthz");
    assertThat(HealthcheckCommand.defaultUrl(config(Map.of("BUCKCACHE_HTTP_ADDRESS", "[::]:8443",
        "BUCKCACHE_INSECURE_NO_AUTH", "true"), Map.of("tls.cert", cert.toString(), "tls.key", cert.toString()))))
        .hasToString("https://127.0.0.1:8443/healthz");
    assertThat(HealthcheckCommand.defaultUrl(config(Map.of("BUCKCACHE_HTTP_ADDRESS", "[::1]:8081"), Map.of())))
        .hasToString("http://[0:0:0:0:0:0:0:1]:8081/healthz");
  }

  private static dev.buckcache.config.ServerConfig config(Map<String, String> env, Map<String, String> flags) {
    return new ConfigLoader(env, 4L << 30).load(null, flags);
  }

  @Test
  void configFile_givesThePort_envWins_likeServe() throws Exception {
    int closed = closedPort();
    try (var server = startServer()) {
      int live = server.httpAddress().getPort();
      var yaml = dir.resolve("buckcache.yaml");
      Files.writeString(yaml, "http:\n  address: 127.0.0.1:" + live + "\n");
      assertThat(healthcheck(Map.of(), "--config", yaml.toString())).isZero();
      assertThat(healthcheck(Map.of("BUCKCACHE_HTTP_ADDRESS", "127.0.0.1:" + closed),
          "--config", yaml.toString(), "--timeout", "2")).isEqualTo(Main.EXIT_FAILURE);

      Files.writeString(yaml, "http:\n  address: 127.0.0.1:" + closed + "\n");
      assertThat(healthcheck(Map.of(), "--config", yaml.toString(), "--timeout", "2"))
          .isEqualTo(Main.EXIT_FAILURE);
      assertThat(healthcheck(Map.of("BUCKCACHE_HTTP_ADDRESS", "127.0.0.1:" + live),
          "--config", yaml.toString())).isZero();
    }
  }

  @Test
  void badConfig_exitsOne_notDockersReservedTwo() throws Exception {
    var yaml = dir.resolve("bad.yaml");
    Files.writeString(yaml, "server:\n  access_log:\n");
    assertThat(healthcheck(Map.of(), "--config", yaml.toString())).isEqualTo(Main.EXIT_FAILURE);
    assertThat(healthcheck(Map.of("BUCKCACHE_HTTP_ADDRESS", "nowhere"))).isEqualTo(Main.EXIT_FAILURE);
  }

  private BuckcacheServer startServer() {
    var flags = Map.of("storage.dir", dir.resolve("store").toString(), "storage.max_size", "64MB",
        "storage.memory_size", "8MB", "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0");
    return BuckcacheServer.start(new ConfigLoader(Map.of(), 4L << 30).load(null, flags));
  }

  private static int healthcheck(Map<String, String> env, String... args) {
    return new CommandLine(new HealthcheckCommand(env)).execute(args);
  }

  private static int closedPort() throws Exception {
    try (var socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
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
