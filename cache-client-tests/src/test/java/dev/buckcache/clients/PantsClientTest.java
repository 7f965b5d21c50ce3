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
 * fills buckcache, a warm run with a fresh local store and named caches is served from it. The
 * repo's pants.toml is {@code config/pants.toml} with the test server's port.
 *
 * <p>Pants races its local run against the cache lookup and drops the loser, so each command
 * sleeps a second: the cache must win every race on the warm run, which Pants' own
 * {@code --stats-log} counters show, and the server's metrics show the same hits from its side.
 */
class PantsClientTest {
  private static final int TARGETS = 10;
  private static final Pattern AC_LOOKUPS =
      Pattern.compile("(?m)^buckcache_ac_lookups_total\\{result=\"(hit|miss)\"} ([0-9.E]+)$");

  @TempDir Path dir;

  @Test
  void warmRun_freshLocalStore_everyShellCommandIsARemoteHit() throws Exception {
    var pants = pants();
    try (var server = ServerProcess.serve(dir.resolve("data"))) {
      var repo = writeRepo(server.grpcPort());
      var before = acLookups(server);
      var cold = run(pants, repo, "1");
      assertThat(cold.exitCode()).as(cold.output()).isZero();
      assertThat(stat(cold.output(), "remote_cache_write_successes")).as(cold.output())
          .isEqualTo(TARGETS);
      var afterCold = acLookups(server);

      deleteTree(repo.resolve("dist"));
      var warm = run(pants, repo, "2");
      assertThat(warm.exitCode()).as(warm.output()).isZero();
      var afterWarm = acLookups(server);
      System.out.println("pants: server ac lookups before " + before + ", after cold " + afterCold
          + ", after warm " + afterWarm);
      assertThat(afterWarm.get("hit") - afterCold.get("hit")).isEqualTo(TARGETS);
      assertThat(afterWarm.get("miss") - afterCold.get("miss")).isZero();
      assertThat(stat(warm.output(), "remote_cache_requests_cached")).as(warm.output())
          .isEqualTo(TARGETS);
      assertThat(stat(warm.output(), "remote_cache_speculation_remote_completed_first"))
          .as(warm.output()).isEqualTo(TARGETS);
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
    assertThat(example).contains("remote_store_address = \"grpc://127.0.0.1:9092\"");
    Files.writeString(repo.resolve("pants.toml"), example
        .replace("grpc://127.0.0.1:9092", "grpc://127.0.0.1:" + grpcPort)
        .replace("[GLOBAL]\n", "[GLOBAL]\npants_version = \"2.17.1\"\n"
            + "backend_packages = [\"pants.backend.shell\"]\n"));
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
  private Clients.Result run(Path pants, Path repo, String name) throws Exception {
    var home = Files.createDirectories(dir.resolve("home-" + name));
    return Clients.run(repo, Map.of("HOME", home.toString()), 240,
        List.of(pants.toString(), "--no-pantsd", "--no-watch-filesystem", "--stats-log",
            "--local-store-dir=" + dir.resolve("store-" + name),
            "--named-caches-dir=" + dir.resolve("named-" + name),
            "export-codegen", "::"));
  }

  private static long stat(String output, String counter) {
    var m = Pattern.compile("(?m)^\\s*" + counter + ": (\\d+)$").matcher(output);
    assertThat(m.find()).as("no " + counter + " in pants --stats-log output").isTrue();
    return Long.parseLong(m.group(1));
  }

  private static Map<String, Long> acLookups(ServerProcess server) throws Exception {
    var body = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(server.http() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
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
