package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pants 2.17.1 (PyPI, installed by scripts/install-test-deps) as a second real REAPI client:
 * ten cacheable {@code shell_command} targets run by {@code pants export-codegen ::}; a cold run
 * fills buckcache with a write token, a warm run with a read token, uploads off, and a fresh local
 * store and named caches is served from it. The repo's pants.toml is {@code config/pants.toml}
 * with the test server's port and its auth header line switched on.
 *
 * <p>Pants races its local run against the cache lookup and drops the loser, so each command
 * sleeps a second: the cache must win every race on the warm run, which Pants' own
 * {@code --stats-log} counters show, and the server's metrics show the same hits from its side.
 */
class PantsClientTest {
  private static final int TARGETS = 10;
  private static final Pattern AC_LOOKUPS =
      Pattern.compile("(?m)^buckcache_ac_lookups_total\\{result=\"(hit|miss)\"} ([0-9.E]+)$");

  private static final String WRITE_TOKEN = "pants-test-write-token";
  private static final String READ_TOKEN = "pants-test-read-token";

  @TempDir Path dir;

  @Test
  void warmRunWithReadToken_freshLocalStore_everyShellCommandIsARemoteHit() throws Exception {
    var pants = pants();
    var tokens = Files.writeString(dir.resolve("tokens.txt"),
        WRITE_TOKEN + " ci write\n" + READ_TOKEN + " laptop read\n");
    try (var server = ServerProcess.serve(dir.resolve("data"), "--auth", "static",
        "--static-token-file", tokens.toString())) {
      var repo = writeRepo(server.grpcPort());
      var before = acLookups(server);
      long start = System.nanoTime();
      var cold = run(pants, repo, "1", WRITE_TOKEN);
      long coldMs = (System.nanoTime() - start) / 1_000_000;
      assertThat(cold.exitCode()).as(cold.output()).isZero();
      assertThat(stat(cold.output(), "remote_cache_write_successes")).as(cold.output())
          .isEqualTo(TARGETS);
      var afterCold = acLookups(server);

      deleteTree(repo.resolve("dist"));
      // A laptop: a read token and no uploads.
      start = System.nanoTime();
      var warm = run(pants, repo, "2", READ_TOKEN, "--no-remote-cache-write");
      long warmMs = (System.nanoTime() - start) / 1_000_000;
      assertThat(warm.exitCode()).as(warm.output()).isZero();
      var afterWarm = acLookups(server);
      System.out.println("pants: server ac lookups before " + before + ", after cold " + afterCold
          + ", after warm " + afterWarm + "; cold run " + coldMs + " ms, warm run " + warmMs + " ms");
      assertThat(afterWarm.get("hit") - afterCold.get("hit")).isEqualTo(TARGETS);
      assertThat(afterWarm.get("miss") - afterCold.get("miss")).isZero();
      assertThat(stat(warm.output(), "remote_cache_requests_cached")).as(warm.output())
          .isEqualTo(TARGETS);
      assertThat(stat(warm.output(), "remote_cache_speculation_remote_completed_first"))
          .as(warm.output()).isEqualTo(TARGETS);
      assertThat(stat(warm.output(), "remote_cache_read_errors")).isZero();
      assertThat(stat(warm.output(), "remote_cache_write_attempts")).isZero();
      assertThat(metricSum(server, "buckcache_auth_failures_total")).isZero();
      for (int i = 1; i <= TARGETS; i++) {
        assertThat(repo.resolve("dist/codegen/t" + i + "/out.txt")).hasContent("hello " + i);
      }
      server.stopAndCheck();
    }
  }

  /** The venv's pants; a missing one fails under CI=true (as {@link Clients#require} does). */
  private static Path pants() {
    var venv = System.getenv().getOrDefault("BUCKCACHE_PANTS_VENV",
        "/opt/buckcache-test-deps/pants-2.17.1");
    var pants = Path.of(venv, "bin", "pants");
    Clients.requireExecutable(pants, "Pants 2.17.1");
    return pants;
  }

  private Path writeRepo(int grpcPort) throws Exception {
    var repo = Files.createDirectories(dir.resolve("repo"));
    // The shipped example, as a user merges it: only the port and the Pants basics differ.
    var example = Files.readString(Path.of("..", "config", "pants.toml"));
    assertThat(example).contains("remote_store_address = \"grpc://127.0.0.1:9092\"")
        .contains("# remote_store_headers.add = { \"Authorization\" = \"Bearer %(env.BUCKCACHE_TOKEN)s\" }");
    Files.writeString(repo.resolve("pants.toml"), example
        .replace("grpc://127.0.0.1:9092", "grpc://127.0.0.1:" + grpcPort)
        .replace("# remote_store_headers.add = ", "remote_store_headers.add = ")
        .replace("[GLOBAL]\n", """
            [GLOBAL]
            pants_version = "2.17.1"
            backend_packages = ["pants.backend.shell"]
            """));
    for (int i = 1; i <= TARGETS; i++) {
      var target = Files.createDirectories(repo.resolve("t" + i));
      Files.writeString(target.resolve("BUILD"), String.join("\n",
          "shell_command(",
          "    name = \"gen\",",
          "    command = \"sleep 1; echo hello " + i + " > out.txt; seq 1 " + (i * 100) + " > nums.txt\",",
          "    tools = [\"echo\", \"seq\", \"sleep\"],",
          "    output_files = [\"out.txt\", \"nums.txt\"],",
          ")",
          ""));
    }
    return repo;
  }

  /** One pants run with its own local store and named caches: nothing local survives a run. */
  private Clients.Result run(Path pants, Path repo, String name, String token, String... flags)
      throws Exception {
    var home = Files.createDirectories(dir.resolve("home-" + name));
    var command = new java.util.ArrayList<>(List.of(pants.toString(), "--no-pantsd",
        "--no-watch-filesystem", "--stats-log",
        "--local-store-dir=" + dir.resolve("store-" + name),
        "--named-caches-dir=" + dir.resolve("named-" + name)));
    command.addAll(List.of(flags));
    command.addAll(List.of("export-codegen", "::"));
    return Clients.run(repo, Map.of("HOME", home.toString(), "BUCKCACHE_TOKEN", token), 240,
        command);
  }

  private static long stat(String output, String counter) {
    var m = Pattern.compile("(?m)^\\s*" + counter + ": (\\d+)$").matcher(output);
    assertThat(m.find()).as("no " + counter + " in pants --stats-log output").isTrue();
    return Long.parseLong(m.group(1));
  }

  private static String metrics(ServerProcess server) throws Exception {
    // From loopback /metrics needs no token.
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(server.http() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private static long metricSum(ServerProcess server, String name) throws Exception {
    var m = Pattern.compile("(?m)^" + name + "\\{[^}]*} ([0-9.E]+)$").matcher(metrics(server));
    long sum = 0;
    while (m.find()) {
      sum += (long) Double.parseDouble(m.group(1));
    }
    return sum;
  }

  private static Map<String, Long> acLookups(ServerProcess server) throws Exception {
    var body = metrics(server);
    var counts = new java.util.HashMap<>(Map.of("hit", 0L, "miss", 0L));
    var m = AC_LOOKUPS.matcher(body);
    while (m.find()) {
      counts.put(m.group(1), (long) Double.parseDouble(m.group(2)));
    }
    return counts;
  }

  private static void deleteTree(Path root) throws Exception {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      for (var p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
