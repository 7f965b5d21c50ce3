package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Bazel 4.2.3 with --remote_cache=grpc://…: a clean rebuild is served entirely from buckcache. */
class BazelGrpcTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"", "--remote_download_minimal"})
  void cleanRebuild_everyActionIsARemoteCacheHit(String extra) throws Exception {
    Clients.require("bazel");
    try (var server = ServerProcess.serve(dir.resolve("data"))) {
      var ws = new BazelWorkspace(dir.resolve("bazel"));
      var flags = new ArrayList<>(List.of("--remote_cache=grpc://127.0.0.1:" + server.grpcPort()));
      if (!extra.isEmpty()) {
        flags.add(extra);
      }
      try {
        var first = ws.bazel("build", flags);
        int actions = BazelWorkspace.executed(first);
        assertThat(actions).as("first build: %s", BazelWorkspace.summary(first)).isGreaterThan(4);
        ws.bazel("clean", List.of());
        var second = ws.bazel("build", flags);
        System.out.println("bazel grpc " + extra + ": first build " + BazelWorkspace.summary(first)
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
