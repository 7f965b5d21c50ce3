package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bazel 4.2.3 over gRPC, seen per build: {@code --invocation_id} groups its calls in
 * {@code /api/invocations}; and an admin purges what one token wrote.
 */
class InsightBazelTest {
  @TempDir Path dir;
  private final HttpClient http = HttpClient.newHttpClient();

  private static List<String> flags(TokenServer tokens, String token, String... more) {
    var flags = new ArrayList<>(List.of("--remote_cache=grpc://127.0.0.1:" + tokens.server.grpcPort(),
        "--remote_header=authorization=Bearer " + token));
    flags.addAll(List.of(more));
    return flags;
  }

  private HttpResponse<String> get(TokenServer tokens, String path, String token) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(tokens.http() + path));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> post(TokenServer tokens, String path, String token) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(tokens.http() + path))
        .header("Authorization", "Bearer " + token).POST(HttpRequest.BodyPublishers.noBody())
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void bazelInvocationId_coldAndWarmBuilds_exactLookupAndHitCounts() throws Exception {
    Clients.require("bazel");
    try (var tokens = TokenServer.start(dir)) {
      var admin = tokens.issue("oncall", "admin");
      var ws = new BazelWorkspace(dir.resolve("bazel"));
      var cold = UUID.randomUUID().toString();
      var warm = UUID.randomUUID().toString();
      try {
        var first = ws.bazel("build", flags(tokens, tokens.writeToken, "--invocation_id=" + cold));
        ws.bazel("clean", List.of());
        var second = ws.bazel("build", flags(tokens, tokens.writeToken, "--invocation_id=" + warm));
        int actions = BazelWorkspace.executed(first) + BazelWorkspace.remoteHits(first);
        assertThat(BazelWorkspace.remoteHits(second)).as(BazelWorkspace.summary(second)).isEqualTo(actions);

        var c = get(tokens, "/api/invocations/" + cold, admin);
        assertThat(c.statusCode()).as(c.body()).isEqualTo(200);
        System.out.println("cold: " + c.body());
        assertThat(c.body()).contains("\"id\":\"" + cold + "\"", "\"tool\":\"bazel\"",
            "\"subject\":\"ci\"", "\"acLookups\":" + actions + ",", "\"acHits\":0,",
            "\"acMisses\":" + actions + ",", "\"never_stored\":" + actions, "\"uploadsRefused\":0",
            "\"errors\":0");
        assertThat(c.body()).containsPattern("\"uploads\":[1-9]");
        var w = get(tokens, "/api/invocations/" + warm, admin);
        System.out.println("warm: " + w.body());
        assertThat(w.body()).contains("\"acLookups\":" + actions + ",",
            "\"acHits\":" + actions + ",", "\"acMisses\":0,", "\"hitRatio\":1.0", "\"uploads\":0,");
        assertThat(w.body()).containsPattern("\"casBytesDown\":[1-9]");

        var list = get(tokens, "/api/invocations?tool=bazel", admin).body();
        assertThat(list.indexOf(warm)).as("newest first: " + list).isNotNegative()
            .isLessThan(list.indexOf(cold));
        // Loopback without a token may look, as at /metrics, but sees no subjects.
        var anonymous = get(tokens, "/api/invocations", null);
        assertThat(anonymous.statusCode()).isEqualTo(200);
        assertThat(anonymous.body()).contains(warm, "\"subject\":null").doesNotContain("\"ci\"");
        var notFound = get(tokens, "/api/invocations/" + UUID.randomUUID(), admin);
        assertThat(notFound.statusCode()).isEqualTo(404);
        var metrics = get(tokens, "/metrics", null).body();
        assertThat(metrics).contains("buckcache_tool_ac_lookups_total{result=\"hit\",tool=\"bazel\"} "
            + actions + ".0");
      } finally {
        ws.shutdown();
      }
    }
  }

  /**
   * A leaked token's results, purged: {@code ci} builds, {@code release-bot} builds the same
   * workspace with another action environment (so other keys for the actions that see it);
   * purging {@code ci} removes exactly the results it wrote, and the next clean rebuilds get no
   * hit from them and every hit from the other's.
   */
  @Test
  void purgeWrittenBy_removesExactlyThatSubjectsResults_nextRebuildMissesThem() throws Exception {
    Clients.require("bazel");
    try (var tokens = TokenServer.start(dir)) {
      var admin = tokens.issue("oncall", "admin");
      var other = tokens.issue("release-bot", "write");
      var ws = new BazelWorkspace(dir.resolve("bazel"));
      try {
        var byCi = ws.bazel("build", flags(tokens, tokens.writeToken));
        int ciActions = BazelWorkspace.executed(byCi);
        assertThat(ciActions).isGreaterThan(4);
        ws.bazel("clean", List.of());
        var byOther = ws.bazel("build", flags(tokens, other, "--action_env=PURGE_TEST=other"));
        int otherActions = BazelWorkspace.executed(byOther);
        // Most actions see the environment, so their keys differ; one that does not is a hit on
        // what ci wrote, and goes with ci's entries.
        int shared = BazelWorkspace.remoteHits(byOther);
        assertThat(otherActions).as(BazelWorkspace.summary(byOther)).isGreaterThan(4);
        assertThat(otherActions + shared).isEqualTo(ciActions);

        var refused = post(tokens, "/api/purge?written_by=ci", tokens.writeToken);
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(403);
        var dry = post(tokens, "/api/purge?written_by=ci&dry_run=true", admin);
        assertThat(dry.statusCode()).as(dry.body()).isEqualTo(200);
        assertThat(dry.body()).contains("\"purged\":" + ciActions + ",", "\"dryRun\":true");
        var purge = post(tokens, "/api/purge?written_by=ci&since=1h", admin);
        assertThat(purge.body()).contains("\"purged\":" + ciActions + ",", "\"dryRun\":false");
        assertThat(post(tokens, "/api/purge?written_by=ci", admin).body()).contains("\"purged\":0,");
        var audit = Files.readString(dir.resolve("data/audit.log"));
        assertThat(audit).contains("\"action\":\"purge\"", "\"by\":\"oncall\"",
            "\"writtenBy\":\"ci\"", "\"purged\":" + ciActions).doesNotContain(admin);

        ws.bazel("clean", List.of());
        var again = ws.bazel("build", flags(tokens, tokens.readToken, "--noremote_upload_local_results"));
        assertThat(BazelWorkspace.remoteHits(again)).as(BazelWorkspace.summary(again)).isZero();
        assertThat(BazelWorkspace.executed(again)).isEqualTo(ciActions);
        ws.bazel("clean", List.of());
        var others = ws.bazel("build", flags(tokens, tokens.readToken, "--noremote_upload_local_results",
            "--action_env=PURGE_TEST=other"));
        assertThat(BazelWorkspace.remoteHits(others)).as(BazelWorkspace.summary(others))
            .isEqualTo(otherActions);
      } finally {
        ws.shutdown();
      }
    }
  }
}
