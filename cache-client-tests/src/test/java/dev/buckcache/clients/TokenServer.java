package dev.buckcache.clients;

import dev.buckcache.process.ServerProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * A real server with JWT auth, and two tokens made with the real CLI: {@code ci} (write) and
 * {@code laptop} (read), as an admin sets it up for a team.
 */
final class TokenServer implements AutoCloseable {
  final ServerProcess server;
  final String writeToken;
  final String readToken;
  private final Path signingKey;
  private final java.util.List<String> issued = new java.util.ArrayList<>();

  private TokenServer(ServerProcess server, String writeToken, String readToken, Path signingKey) {
    this.server = server;
    this.signingKey = signingKey;
    this.writeToken = writeToken;
    this.readToken = readToken;
  }

  static TokenServer start(Path dir) throws Exception {
    var keys = dir.resolve("keys");
    ServerProcess.cli("keygen", "--out", keys.toString());
    var key = keys.resolve("signing-key.pem").toString();
    var write = ServerProcess.cli("token", "issue", "--key", key, "--subject", "ci", "--scope",
        "write", "--ttl", "1h");
    var read = ServerProcess.cli("token", "issue", "--key", key, "--subject", "laptop", "--scope",
        "read", "--ttl", "1h");
    var server = ServerProcess.serve(dir.resolve("data"), "--auth", "jwt", "--jwt-public-key",
        keys.resolve("verify-key.pem").toString());
    return new TokenServer(server, write, read, Path.of(key));
  }

  /** Another token from the same key: {@code scope} is read, write or admin. */
  String issue(String subject, String scope) throws Exception {
    var token = ServerProcess.cli("token", "issue", "--key", signingKey.toString(), "--subject",
        subject, "--scope", scope, "--ttl", "1h");
    issued.add(token);
    return token;
  }

  String http() {
    return server.http();
  }

  /**
   * The sum of {@code buckcache_requests_total} over the series with these labels, from the
   * server's /metrics (open on loopback).
   */
  long requests(String kind, String method, String result) throws Exception {
    var text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(http() + "/metrics"))
        .build(), HttpResponse.BodyHandlers.ofString()).body();
    var series = Pattern.compile("^buckcache_requests_total\\{([^}]*)\\} ([0-9.eE+]+)$", Pattern.MULTILINE)
        .matcher(text);
    long sum = 0;
    while (series.find()) {
      var labels = series.group(1);
      if (labels.contains("kind=\"" + kind + "\"") && labels.contains("method=\"" + method + "\"")
          && labels.contains("result=\"" + result + "\"") && labels.contains("protocol=\"http\"")) {
        sum += (long) Double.parseDouble(series.group(2));
      }
    }
    return sum;
  }

  @Override
  public void close() {
    try {
      server.stopAndCheck();
      var log = String.join("\n", server.output());
      if (log.contains(writeToken) || log.contains(readToken)
          || issued.stream().anyMatch(log::contains)) {
        throw new AssertionError("the server's output holds a token");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while stopping the server", e);
    } finally {
      server.close();
    }
  }
}
