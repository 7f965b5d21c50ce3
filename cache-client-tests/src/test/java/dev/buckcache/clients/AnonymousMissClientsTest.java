package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real clients without a token against {@code serve --auth jwt --anonymous miss}, after a build
 * with a write token filled the cache: Bazel over HTTP and over gRPC, and ccache over HTTP, build
 * successfully with every action run locally (nothing stored is revealed), their uploads refused
 * without failing the build.
 */
class AnonymousMissClientsTest {
  @TempDir static Path dir;
  static ServerProcess server;
  static String writeToken;

  @BeforeAll
  static void start() throws Exception {
    var keys = dir.resolve("keys");
    AuthClientsTest.cli("keygen", "--out", keys.toString());
    writeToken = AuthClientsTest.cli("token", "issue", "--key",
        keys.resolve("signing-key.pem").toString(), "--subject", "ci", "--scope", "write", "--ttl", "1h");
    server = ServerProcess.serve(dir.resolve("data"), "--auth", "jwt", "--jwt-public-key",
        keys.resolve("verify-key.pem").toString(), "--anonymous", "miss");
  }

  @AfterAll
  static void stop() throws Exception {
    if (server == null) {
      return;
    }
    server.stopAndCheck();
    var log = server.output();
    assertThat(String.join("\n", log)).doesNotContain(writeToken);
    // Dozens of calls without a token: one WARN line a minute for this host, whichever protocol.
    assertThat(log.stream().filter(l -> l.contains("WARN") && l.contains("caller at 127.0.0.1: no token")))
        .hasSizeBetween(1, 4);
  }

  @Test
  void bazelHttpAndGrpc_noToken_buildsLocallyPastAFilledCache() throws Exception {
    Clients.require("bazel");
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
  }

  @Test
  void ccache_noToken_compilesLocallyPastAFilledCache() throws Exception {
    Clients.require("ccache");
    Clients.require("gcc");
    var src = Files.createDirectories(dir.resolve("csrc"));
    Files.writeString(src.resolve("a.c"), "int a(void) { return 11; }\n");
    var storage = server.http() + "/ccache|layout=bazel";
    var ci = Map.of("CCACHE_DIR", dir.resolve("ccache").toString(),
        "CCACHE_REMOTE_STORAGE", storage + "|bearer-token=" + writeToken);
    var anonymous = Map.of("CCACHE_DIR", dir.resolve("ccache").toString(), "CCACHE_REMOTE_STORAGE", storage);
    compile(src, ci); // fills the remote cache
    assertThat(remoteHitsAfterWipe(src, ci)).as("the cache is filled").isEqualTo(1);
    assertThat(remoteHitsAfterWipe(src, anonymous)).isZero();
  }

  private static void compile(Path src, Map<String, String> env) throws Exception {
    var r = Clients.run(src, env, 120, "ccache", "gcc", "-c", "a.c", "-o", "a.o");
    assertThat(r.exitCode()).as(r.output()).isZero();
  }

  /** Wipes the local cache, compiles once, and returns the remote hits that compile got. */
  private static int remoteHitsAfterWipe(Path src, Map<String, String> env) throws Exception {
    Clients.run(src, env, 60, "ccache", "-C");
    Clients.run(src, env, 60, "ccache", "-z");
    compile(src, env);
    return Clients.ccacheRemoteHits(src, env);
  }
}
