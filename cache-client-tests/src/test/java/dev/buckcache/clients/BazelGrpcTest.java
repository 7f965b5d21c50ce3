package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
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
        var run = ws.cleanRebuild(flags);
        System.out.println("bazel grpc " + extra + ": " + run.summary());
        assertThat(BazelWorkspace.executed(run.first())).as(run.summary()).isGreaterThan(4);
        assertThat(BazelWorkspace.remoteHits(run.second())).as(run.summary()).isEqualTo(run.actions());
        assertThat(BazelWorkspace.executed(run.second())).isZero();
      } finally {
        ws.shutdown();
      }
      server.stopAndCheck();
    }
  }

  /** One server, one port: Bazel over gRPC and over HTTP at the HTTP port, both all hits. */
  @Test
  void oneServer_grpcAndHttpOnTheHttpPort_cleanRebuildsAllHits() throws Exception {
    Clients.require("bazel");
    try (var server = ServerProcess.serve(dir.resolve("data"))) {
      var grpc = new BazelWorkspace(dir.resolve("bazel-grpc"));
      var http = new BazelWorkspace(dir.resolve("bazel-http"));
      try {
        var overGrpc = grpc.cleanRebuild(List.of("--remote_cache=grpc://127.0.0.1:" + server.httpPort()));
        System.out.println("bazel grpc on the http port: " + overGrpc.summary());
        assertThat(BazelWorkspace.executed(overGrpc.first())).as(overGrpc.summary()).isGreaterThan(4);
        assertThat(BazelWorkspace.remoteHits(overGrpc.second())).as(overGrpc.summary())
            .isEqualTo(overGrpc.actions());
        assertThat(BazelWorkspace.executed(overGrpc.second())).isZero();
        // The same port over HTTP/1.1, from another workspace: served what gRPC stored.
        var overHttp = http.cleanRebuild(List.of("--remote_cache=http://127.0.0.1:" + server.httpPort()));
        System.out.println("bazel http on the same port: " + overHttp.summary());
        assertThat(BazelWorkspace.remoteHits(overHttp.second())).as(overHttp.summary())
            .isEqualTo(overGrpc.actions());
        assertThat(BazelWorkspace.executed(overHttp.second())).isZero();
      } finally {
        grpc.shutdown();
        http.shutdown();
      }
      server.stopAndCheck();
    }
  }
}
