package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.config.ConfigLoader;
import dev.buckcache.digest.DigestFunction;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * auth.anonymous as the server wires it, with a static token: the three modes and the old
 * --allow-anonymous-reads alias, seen by an HTTP client without a token; misses are counted.
 */
class AnonymousModesTest {
  @TempDir Path dir;
  private final HttpClient http = HttpClient.newHttpClient();
  private final byte[] blob = "a stored blob".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  private final String sha = DigestFunction.SHA256.hash(blob);

  private BuckcacheServer start(Map<String, String> flags) {
    var all = new HashMap<>(Map.of("storage.dir", dir.resolve("d" + flags.hashCode()).toString(),
        "storage.max_size", "128MB", "storage.memory_size", "8MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0"));
    all.putAll(flags);
    return BuckcacheServer.start(new ConfigLoader(Map.of("AUTH_TOKEN", "t0ken"), 4L << 30).load(null, all));
  }

  private HttpResponse<String> send(BuckcacheServer server, String method, String path, byte[] body,
      boolean token) throws Exception {
    var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpAddress().getPort() + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    if (token) {
      b.header("Authorization", "Bearer t0ken");
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Status codes without a token: GET of a stored blob, PUT of it. */
  private String noTokenStatuses(Map<String, String> flags) throws Exception {
    try (var server = start(flags)) {
      assertThat(send(server, "PUT", "/cas/" + sha, blob, true).statusCode()).isEqualTo(200);
      return send(server, "GET", "/cas/" + sha, null, false).statusCode() + " "
          + send(server, "PUT", "/ac/" + sha, blob, false).statusCode();
    }
  }

  @Test
  void modes_noTokenCaller_deny401_read200_miss404() throws Exception {
    assertThat(noTokenStatuses(Map.of())).isEqualTo("401 401");
    assertThat(noTokenStatuses(Map.of("auth.anonymous", "read"))).isEqualTo("200 403");
    assertThat(noTokenStatuses(Map.of("auth.allow_anonymous_reads", "true"))).isEqualTo("200 403");
    assertThat(noTokenStatuses(Map.of("auth.anonymous", "miss"))).isEqualTo("404 403");
  }

  @Test
  void miss_badTokenIs404AndCounted_statusStays401() throws Exception {
    try (var server = start(Map.of("auth.anonymous", "miss"))) {
      assertThat(send(server, "PUT", "/cas/" + sha, blob, true).statusCode()).isEqualTo(200);
      var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpAddress().getPort()
          + "/cas/" + sha)).header("Authorization", "Bearer wrong-token").build();
      var miss = http.send(b, HttpResponse.BodyHandlers.ofString());
      assertThat(miss.statusCode()).isEqualTo(404);
      assertThat(miss.body()).isEqualTo("unknown token: use a token from the server's static token "
          + "file or AUTH_TOKEN (served as an anonymous cache miss)\n");
      assertThat(send(server, "GET", "/status", null, false).statusCode()).isEqualTo(401);
      var metrics = send(server, "GET", "/metrics", null, false).body(); // loopback: open
      assertThat(metrics).contains("buckcache_auth_failures_total{protocol=\"http\",reason=\"unknown_token\"} 1.0")
          .contains("buckcache_auth_failures_total{protocol=\"http\",reason=\"missing\"} 1.0")
          .doesNotContain("wrong-token");
    }
  }
}
