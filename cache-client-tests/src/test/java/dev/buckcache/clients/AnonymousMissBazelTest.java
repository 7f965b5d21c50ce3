package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bazel without a token against {@code serve --auth jwt --anonymous miss}, after a CI build with
 * a write token filled the cache: over HTTP and over gRPC the build succeeds, every action runs
 * locally (nothing stored is revealed), and its uploads are refused without failing it.
 */
class AnonymousMissBazelTest {
  @TempDir Path dir;

  @Test
  void bazelHttpAndGrpc_noToken_buildsLocallyPastAFilledCache() throws Exception {
    Clients.require("bazel");
    var keys = dir.resolve("keys");
    AuthClientsTest.cli("keygen", "--out", keys.toString());
    var writeToken = AuthClientsTest.cli("token", "issue", "--key",
        keys.resolve("signing-key.pem").toString(), "--subject", "ci", "--scope", "write", "--ttl", "1h");
    try (var server = ServerProcess.serve(dir.resolve("data"), "--auth", "jwt", "--jwt-public-key",
        keys.resolve("verify-key.pem").toString(), "--anonymous", "miss")) {
      var ws = new BazelWorkspace(dir.resolve("bazel"));
      var grpc = "grpc://127.0.0.1:" + server.grpcPort();
      try {
        var ci = ws.cleanRebuild(List.of("--remote_cache=" + server.http(),
            "--remote_header=Authorization=Bearer " + writeToken));
        int actions = ci.actions();
        assertThat(actions).as(ci.summary()).isGreaterThan(4);
        assertThat(BazelWorkspace.remoteHits(ci.second())).as("the cache is filled: " + ci.summary())
            .isEqualTo(actions);

        // Over gRPC Bazel reads update_enabled=false and wants uploads off; over HTTP it tries
        // to upload, gets 403, and carries on.
        for (var flags : List.of(List.of("--remote_cache=" + server.http()),
            List.of("--remote_cache=" + grpc, "--remote_upload_local_results=false"))) {
          ws.bazel("clean", List.of());
          var anonymous = ws.bazel("build", flags);
          var summary = BazelWorkspace.summary(anonymous);
          System.out.println("bazel, no token, " + flags.get(0).replaceAll(":\\d+", "") + ": " + summary);
          assertThat(summary).doesNotContain("remote cache hit");
          assertThat(BazelWorkspace.executed(anonymous)).as(summary).isEqualTo(actions);
        }
      } finally {
        ws.shutdown();
      }
      server.stopAndCheck();
      // One WARN line a minute per host without a token, whichever protocol it used.
      assertThat(server.output().stream().filter(l -> l.contains("caller at 127.0.0.1: no token")))
          .hasSize(1);
      assertThat(String.join("\n", server.output())).doesNotContain(writeToken);
    }
  }
}
