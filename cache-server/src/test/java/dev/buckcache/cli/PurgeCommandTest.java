package dev.buckcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.buckcache.insight.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code buckcache purge} and {@code token revoke --purge} against a stand-in server that records
 * what it is sent and answers as told: the request, the printed line, refusals, the audit line.
 */
class PurgeCommandTest {
  private static final String TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl";
  private static final Map<String, String> ENV = Map.of("ADMIN_TOKEN", TOKEN);

  @TempDir Path dir;

  private HttpServer server;
  private String base;
  private final List<Recorded> requests = new CopyOnWriteArrayList<>();
  private volatile int status = 200;
  private volatile String answer =
      "{\"purged\":12,\"dryRun\":false,\"writtenBy\":\"ci-bot\",\"since\":null}";

  record Recorded(String method, String path, String rawQuery, String authorization) {}

  @BeforeEach
  void startServer() throws Exception {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", exchange -> {
      exchange.getRequestBody().readAllBytes();
      requests.add(new Recorded(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
          exchange.getRequestURI().getRawQuery(),
          exchange.getRequestHeaders().getFirst("Authorization")));
      var body = answer.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type",
          status == 200 ? "application/json" : "text/plain; charset=utf-8");
      exchange.sendResponseHeaders(status, body.length);
      try (var out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
    base = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stopServer() {
    server.stop(0);
  }

  /** Exit code, stdout, stderr. */
  private static String[] capture(Supplier<Integer> command) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    var oldOut = System.out;
    var oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int code = command.get();
      return new String[] {Integer.toString(code), out.toString(StandardCharsets.UTF_8),
          err.toString(StandardCharsets.UTF_8)};
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  private static String[] purge(Map<String, String> env, String... args) {
    return capture(() -> new CommandLine(new PurgeCommand(env)).execute(args));
  }

  private static String[] revoke(Map<String, String> env, String... args) {
    return capture(() -> new CommandLine(new TokenCommand.Revoke(env)).execute(args));
  }

  @Test
  void purge_postsWithEncodedQueryAndBearerToken_printsOneLine_neverTheToken() {
    var r = purge(ENV, "--server", base + "/", "--token-env", "ADMIN_TOKEN",
        "--written-by", "ci bot&x", "--since", "24h");
    assertThat(r[0]).as(r[2]).isEqualTo("0");
    assertThat(requests).containsExactly(new Recorded("POST", "/api/purge",
        "written_by=ci+bot%26x&since=24h", "Bearer " + TOKEN));
    assertThat(r[1]).isEqualTo("purged 12 action-cache entries written by ci bot&x"
        + System.lineSeparator());
    assertThat(r[1] + r[2]).doesNotContain(TOKEN);
  }

  @Test
  void dryRun_sendsDryRunTrue_andSaysWouldPurge() {
    answer = "{\"purged\":1,\"dryRun\":true,\"writtenBy\":\"ci-bot\","
        + "\"since\":\"2026-12-01T09:00:00Z\"}";
    var r = purge(ENV, "--server", base, "--token-env", "ADMIN_TOKEN", "--written-by", "ci-bot",
        "--since", "2026-12-01T09:00:00Z", "--dry-run");
    assertThat(r[0]).as(r[2]).isEqualTo("0");
    assertThat(requests).singleElement().extracting(Recorded::rawQuery)
        .isEqualTo("written_by=ci-bot&since=2026-12-01T09%3A00%3A00Z&dry_run=true");
    assertThat(r[1]).isEqualTo("would purge 1 action-cache entry written by ci-bot since "
        + "2026-12-01T09:00:00Z (dry run)" + System.lineSeparator());
  }

  @Test
  void refusal_exitsNonZero_withStatusAndBodyOnStderr() {
    status = 403;
    answer = "token for 'alice' (scope write) may not purge: that takes an admin token for all "
        + "instances\n";
    var r = purge(ENV, "--server", base, "--token-env", "ADMIN_TOKEN", "--written-by", "ci-bot");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_FAILURE));
    assertThat(r[1]).isEmpty();
    assertThat(r[2]).isEqualTo("purge refused: HTTP 403: token for 'alice' (scope write) may not "
        + "purge: that takes an admin token for all instances" + System.lineSeparator());
    assertThat(requests).hasSize(1);
  }

  @Test
  void unsetOrEmptyTokenVariable_refusedBeforeAnyRequest() {
    // Through Main: the command is registered, and reads the real environment.
    var unset = "BUCKCACHE_TEST_UNSET_" + Long.toHexString(System.nanoTime());
    var r = BuckconfigCommandTest.run("purge", "--server", base, "--token-env", unset,
        "--written-by", "ci-bot");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_CONFIG));
    assertThat(r[2]).contains("environment variable " + unset + " is not set");
    r = purge(Map.of("ADMIN_TOKEN", "  "), "--server", base, "--token-env", "ADMIN_TOKEN",
        "--written-by", "ci-bot");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_CONFIG));
    assertThat(r[2]).contains("environment variable ADMIN_TOKEN is empty");
    r = purge(ENV, "--server", base + "/api", "--token-env", "ADMIN_TOKEN", "--written-by", "x");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_CONFIG));
    assertThat(r[2]).startsWith("buckcache: --server must be");
    r = purge(ENV, "--server", base, "--token-env", "ADMIN_TOKEN", "--written-by", "x",
        "--since", "yesterday");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_CONFIG));
    assertThat(r[2]).startsWith("buckcache: --since must be");
    assertThat(requests).isEmpty();
  }

  @Test
  void nothingListening_oneLineNamingTheServer() throws Exception {
    int closed;
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = socket.getLocalPort();
    }
    var r = purge(ENV, "--server", "http://127.0.0.1:" + closed, "--token-env", "ADMIN_TOKEN",
        "--written-by", "ci-bot");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_FAILURE));
    assertThat(r[2]).startsWith("buckcache: cannot reach the server at http://127.0.0.1:" + closed)
        .hasLineCount(1).doesNotContain(TOKEN);
  }

  @Test
  void revokeSubjectWithPurge_appendsRevokes_purges_andAudits() throws Exception {
    var file = dir.resolve("revoked.txt");
    Files.writeString(file, "jti old\n");
    var r = revoke(ENV, "--file", file.toString(), "--subject", "ci-bot", "--purge",
        "--server", base, "--token-env", "ADMIN_TOKEN");
    assertThat(r[0]).as(r[2]).isEqualTo("0");
    assertThat(Files.readString(file)).isEqualTo("jti old\nsub ci-bot\n");
    assertThat(requests).containsExactly(
        new Recorded("POST", "/api/purge", "written_by=ci-bot", "Bearer " + TOKEN));
    assertThat(r[1]).isEqualTo("revoked subject ci-bot" + System.lineSeparator()
        + "purged 12 action-cache entries written by ci-bot" + System.lineSeparator());
    var audit = Files.readAllLines(dir.resolve("audit.log"));
    assertThat(audit).singleElement().satisfies(line -> assertThat(line)
        .contains("\"action\":\"revoke\"")
        .contains("\"by\":" + Json.quote(new StringBuilder(), System.getProperty("user.name")))
        .contains("\"subject\":\"ci-bot\"").contains("\"purged\":12")
        .contains("\"file\":" + Json.quote(new StringBuilder(), file.toAbsolutePath().toString()))
        .doesNotContain(TOKEN));
  }

  @Test
  void revokeWithFailedPurge_revocationStands_auditSaysSo_exitNonZero() throws Exception {
    status = 401;
    answer = "purge needs an admin token";
    var file = dir.resolve("revoked.txt");
    var r = revoke(ENV, "--file", file.toString(), "--subject", "ci-bot", "--purge",
        "--server", base, "--token-env", "ADMIN_TOKEN");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_FAILURE));
    assertThat(Files.readString(file)).isEqualTo("sub ci-bot\n");
    assertThat(r[2]).contains("purge refused: HTTP 401: purge needs an admin token");
    assertThat(Files.readString(dir.resolve("audit.log"))).contains("\"subject\":\"ci-bot\"")
        .contains("\"purged\":null").contains("\"purgeFailed\":true");
  }

  @Test
  void revokeJti_noPurge_auditsToTheGivenFile_andNeverCallsTheServer() throws Exception {
    var file = dir.resolve("revoked.txt");
    var log = dir.resolve("logs").resolve("cli-audit.log");
    var r = revoke(Map.of(), "--file", file.toString(), "--jti", "abc-123", "--audit-log",
        log.toString());
    assertThat(r[0]).as(r[2]).isEqualTo("0");
    assertThat(Files.readString(file)).isEqualTo("jti abc-123\n");
    assertThat(Files.readString(log)).contains("\"action\":\"revoke\"")
        .contains("\"jti\":\"abc-123\"").doesNotContain("\"purged\"").doesNotContain("subject");
    assertThat(dir.resolve("audit.log")).doesNotExist();
    assertThat(requests).isEmpty();
  }

  @Test
  void purgeWithJti_orWithoutServer_refusedBeforeRevoking() {
    var file = dir.resolve("revoked.txt");
    // Through Main, as an admin types it.
    var r = BuckconfigCommandTest.run("token", "revoke", "--file", file.toString(), "--jti",
        "abc-123", "--purge", "--server", base, "--token-env", "ADMIN_TOKEN");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_CONFIG));
    assertThat(r[2]).startsWith("buckcache: --purge needs --subject");
    r = revoke(ENV, "--file", file.toString(), "--subject", "ci-bot", "--purge");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_CONFIG));
    assertThat(r[2]).startsWith("buckcache: --purge needs --server URL and --token-env VAR");
    r = revoke(Map.of(), "--file", file.toString(), "--subject", "ci-bot", "--purge",
        "--server", base, "--token-env", "ADMIN_TOKEN");
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_CONFIG));
    assertThat(r[2]).contains("environment variable ADMIN_TOKEN is not set");
    assertThat(file).doesNotExist();
    assertThat(dir.resolve("audit.log")).doesNotExist();
    assertThat(requests).isEmpty();
  }
}
