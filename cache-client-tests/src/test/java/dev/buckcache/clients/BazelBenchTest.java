package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bazel end to end: the wall time of a clean rebuild served entirely from the cache, from nginx
 * WebDAV and from buckcache (HTTP and gRPC), alternating, {@code buckcache.bench.rounds} rounds
 * (1 in CI, where no time is asserted). Results also go to target/bench/bazel.tsv.
 */
class BazelBenchTest {
  static final int ROUNDS = Integer.getInteger("buckcache.bench.rounds", 1);
  @TempDir Path dir;

  @Test
  void cleanRebuildFromCache_buckcacheVsNginx() throws Exception {
    Clients.require("bazel");
    if (!Files.isExecutable(Path.of("/usr/sbin/nginx"))) {
      Clients.require("nginx");
    }
    // nginx's workers (www-data when run as root) must reach their directory.
    Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    try (var nginx = Nginx.start(Files.createDirectories(dir.resolve("nginx")));
        var server = ServerProcess.serve(dir.resolve("data"))) {
      var caches = List.of(List.of("nginx (HTTP)", nginx.url()),
          List.of("buckcache (HTTP)", server.http()),
          List.of("buckcache (gRPC)", "grpc://127.0.0.1:" + server.grpcPort()));
      var workspaces = new ArrayList<BazelWorkspace>();
      var times = new ArrayList<List<Double>>();
      try {
        for (var cache : caches) {
          var ws = new BazelWorkspace(dir.resolve("bazel-" + workspaces.size()));
          workspaces.add(ws);
          times.add(new ArrayList<>());
          // Fills the cache (the gRPC workspace finds buckcache already filled over HTTP).
          var fill = ws.bazel("build", List.of("--remote_cache=" + cache.get(1)));
          assertThat(BazelWorkspace.executed(fill) + BazelWorkspace.remoteHits(fill))
              .as(BazelWorkspace.summary(fill)).isPositive();
        }
        for (int round = 0; round < ROUNDS; round++) {
          for (int c = 0; c < caches.size(); c++) {
            var ws = workspaces.get(c);
            ws.bazel("clean", List.of());
            long start = System.nanoTime();
            var build = ws.bazel("build", List.of("--remote_cache=" + caches.get(c).get(1)));
            times.get(c).add((System.nanoTime() - start) / 1e9);
            assertThat(BazelWorkspace.executed(build)).as(BazelWorkspace.summary(build)).isZero();
          }
        }
      } finally {
        for (var ws : workspaces) {
          ws.shutdown();
        }
      }
      var rows = new ArrayList<String>();
      double reference = median(times.get(0));
      for (int c = 0; c < caches.size(); c++) {
        double m = median(times.get(c));
        rows.add(String.format(Locale.ROOT, "%s\t%.2f\t%.2f", caches.get(c).get(0), m, m / reference));
      }
      var out = Path.of(System.getProperty("buckcache.bench.out", "target/bench"));
      Files.createDirectories(out);
      Files.write(out.resolve("bazel.tsv"), rows);
      rows.forEach(r -> System.out.println("bazel bench (clean rebuild s, vs nginx): " + r.replace('\t', ' ')));
      server.stopAndCheck();
    }
  }

  static double median(List<Double> values) {
    var sorted = values.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }
}
