package dev.buckcache.cli;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code buckcache purge}: asks a server ({@code POST /api/purge}, admin token) to delete the
 * action-cache entries a subject wrote, e.g. after its token leaked. CAS blobs need no purge: each
 * upload is checked against its digest. {@code token revoke --purge} runs the same request
 * ({@link #purge}).
 */
@Command(name = "purge", mixinStandardHelpOptions = true,
    description = "Deletes, on one server, the action-cache entries written by a token subject "
        + "(POST /api/purge, admin token). Run it against every node.")
final class PurgeCommand implements Callable<Integer> {
  /** A purge scans the whole action-cache index. */
  static final Duration REQUEST_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private static final Pattern PURGED = Pattern.compile("\"purged\"\\s*:\\s*(\\d{1,18})\\b");
  private static final Pattern SINCE = Pattern.compile("\"since\"\\s*:\\s*\"([^\"]*)\"");

  @Option(names = "--server", required = true, paramLabel = "http(s)://HOST:PORT",
      description = "the server's HTTP port, e.g. http://127.0.0.1:8080")
  String server;

  @Option(names = "--token-env", required = true, paramLabel = "VAR",
      description = "environment variable that holds an admin token (the token is never printed)")
  String tokenEnv;

  @Option(names = "--written-by", required = true, paramLabel = "SUBJECT",
      description = "the token subject whose action-cache entries go")
  String writtenBy;

  @Option(names = "--since", paramLabel = "TIME",
      description = "only entries written at or after this: 2026-12-01T09:00:00Z, or an age: 30m, 24h, 7d")
  String since;

  @Option(names = "--dry-run", description = "count what would go; delete nothing")
  boolean dryRun;

  private final Map<String, String> env;

  PurgeCommand() {
    this(System.getenv());
  }

  PurgeCommand(Map<String, String> env) {
    this.env = env;
  }

  @Override
  public Integer call() throws InterruptedException {
    var request = Request.check(server, tokenEnv, env);
    if (request == null) {
      return Main.EXIT_CONFIG;
    }
    if (writtenBy.isBlank()) {
      System.err.println("buckcache: --written-by must name a token subject");
      return Main.EXIT_CONFIG;
    }
    if (since != null && !validSince(since)) {
      System.err.println("buckcache: --since must be a time (2026-12-01T09:00:00Z) or an age "
          + "(30m, 24h, 7d)");
      return Main.EXIT_CONFIG;
    }
    return purge(request, writtenBy, since, dryRun) >= 0 ? 0 : Main.EXIT_FAILURE;
  }

  private static boolean validSince(String text) {
    try {
      dev.buckcache.config.ConfigLoader.parseInstantOrAge(text, java.time.Instant.now());
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** Where to send a purge and with what token: checked before anything is done. */
  record Request(URI base, String token) {
    @Override
    public String toString() {
      return "Request[" + base + "]"; // never the token
    }

    /**
     * The server URL and the token from {@code env}, or null after saying on stderr what is wrong
     * (nothing else is printed, least of all the token).
     */
    static Request check(String server, String tokenEnv, Map<String, String> env) {
      URI base;
      try {
        base = URI.create(server.endsWith("/") ? server.substring(0, server.length() - 1) : server);
      } catch (IllegalArgumentException e) {
        base = null;
      }
      if (base == null || !("http".equals(base.getScheme()) || "https".equals(base.getScheme()))
          || base.getHost() == null || (base.getPath() != null && !base.getPath().isEmpty())
          || base.getRawQuery() != null || base.getRawFragment() != null
          || base.getRawUserInfo() != null) {
        System.err.println("buckcache: --server must be the server's HTTP port as http://HOST:PORT "
            + "or https://HOST:PORT (no path, query or credentials)");
        return null;
      }
      if (!tokenEnv.matches("[A-Za-z_][A-Za-z0-9_]*")) {
        System.err.println("buckcache: --token-env must be a variable name such as BUCKCACHE_TOKEN");
        return null;
      }
      var value = env.get(tokenEnv);
      var token = value == null ? "" : value.strip();
      if (token.isEmpty()) {
        System.err.println("buckcache: environment variable " + tokenEnv + " is "
            + (value == null ? "not set" : "empty") + "; it must hold an admin token");
        return null;
      }
      if (!token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
        System.err.println("buckcache: environment variable " + tokenEnv
            + " does not hold a token (it has spaces or control characters)");
        return null;
      }
      return new Request(base, token);
    }
  }

  /**
   * Sends {@code POST /api/purge} and prints one line on stdout (or the refusal or failure on
   * stderr).
   *
   * @return how many action-cache entries were purged (or would be, on a dry run), or -1 if the
   *     server refused, could not be reached or answered something else
   */
  static long purge(Request request, String writtenBy, String since, boolean dryRun)
      throws InterruptedException {
    var query = new StringBuilder("written_by=").append(encode(writtenBy));
    if (since != null) {
      query.append("&since=").append(encode(since));
    }
    if (dryRun) {
      query.append("&dry_run=true");
    }
    var uri = URI.create(request.base() + "/api/purge?" + query);
    var client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(CONNECT_TIMEOUT).build();
    var post = HttpRequest.newBuilder(uri).timeout(REQUEST_TIMEOUT)
        .header("Authorization", "Bearer " + request.token())
        .POST(HttpRequest.BodyPublishers.noBody()).build();
    HttpResponse<String> response;
    try {
      response = client.send(post, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (java.net.ConnectException e) {
      System.err.println("buckcache: cannot reach the server at " + request.base()
          + " (" + (e.getMessage() == null ? "connection refused" : e.getMessage()) + ")");
      return -1;
    } catch (HttpTimeoutException e) {
      System.err.println("buckcache: the server at " + request.base() + " did not answer the purge"
          + " in time (" + e.getMessage() + "); it may still be running there");
      return -1;
    } catch (IOException e) {
      System.err.println("buckcache: purge at " + request.base() + " failed: "
          + (e.getMessage() == null ? e.toString() : e.getMessage()));
      return -1;
    }
    var body = response.body() == null ? "" : response.body().strip();
    if (response.statusCode() != 200) {
      System.err.println("purge refused: HTTP " + response.statusCode() + ": " + body);
      return -1;
    }
    var purged = PURGED.matcher(body);
    if (!purged.find()) {
      System.err.println("buckcache: " + request.base() + " answered the purge with no count: "
          + body);
      return -1;
    }
    long count = Long.parseLong(purged.group(1));
    var sinceEcho = SINCE.matcher(body);
    var what = count + " action-cache " + (count == 1 ? "entry" : "entries") + " written by "
        + writtenBy + (sinceEcho.find() ? " since " + sinceEcho.group(1) : "");
    System.out.println(dryRun ? "would purge " + what + " (dry run)" : "purged " + what);
    return count;
  }

  private static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }
}
