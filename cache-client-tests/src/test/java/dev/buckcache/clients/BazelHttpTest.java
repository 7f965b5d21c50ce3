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
        var run = ws.cleanRebuild(flags);
        System.out.println("bazel http: " + run.summary());
        assertThat(BazelWorkspace.executed(run.first())).as(run.summary()).isGreaterThan(4);
        assertThat(BazelWorkspace.remoteHits(run.second())).as(run.summary()).isEqualTo(run.actions());
        assertThat(BazelWorkspace.executed(run.second())).isZero();
      } finally {
        ws.shutdown();
      }
      server.stopAndCheck();
    }
  }
}
