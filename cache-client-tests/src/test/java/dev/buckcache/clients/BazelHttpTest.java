package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bazel 4.2.3 with --remote_cache=http://…: a clean rebuild is served entirely from buckcache. */
class BazelHttpTest {
  @TempDir Path dir;

  @Test
  void cleanRebuild_everyActionIsARemoteCacheHit() throws Exception {
    Clients.require("bazel");
    try (var server = ServerProcess.serve(dir.resolve("data"))) {
      var ws = new BazelWorkspace(dir.resolve("bazel"));
      var flags = List.of("--remote_cache=" + server.http());
      try {
        var first = ws.bazel("build", flags);
        int actions = BazelWorkspace.executed(first);
        assertThat(actions).as("first build: %s", BazelWorkspace.summary(first)).isGreaterThan(4);
        ws.bazel("clean", List.of());
        var second = ws.bazel("build", flags);
        System.out.println("bazel http: first build " + BazelWorkspace.summary(first)
            + "; after clean " + BazelWorkspace.summary(second));
        assertThat(BazelWorkspace.remoteHits(second))
            .as("rebuild: %s", BazelWorkspace.summary(second)).isEqualTo(actions);
        assertThat(BazelWorkspace.executed(second)).isZero();
      } finally {
        ws.shutdown();
      }
      server.stopAndCheck();
    }
  }
}
