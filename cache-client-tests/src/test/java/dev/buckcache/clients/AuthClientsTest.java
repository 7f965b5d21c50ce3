package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * JWT auth end to end: keys and tokens made with the real CLI, a server with --auth jwt, and the
 * real clients sending their tokens. CI builds with a write token and gets hits; a laptop with a
 * read token gets the hits, cannot upload, and still builds.
 */
class AuthClientsTest {
  @TempDir static Path dir;
  static ServerProcess server;
  static String writeToken;
  static String readToken;

  static String cli(String... args) throws Exception {
    return ServerProcess.cli(args);
  }

  @BeforeAll
  static void start() throws Exception {
    var keys = dir.resolve("keys");
    cli("keygen", "--out", keys.toString());
    writeToken = cli("token", "issue", "--key", keys.resolve("signing-key.pem").toString(),
        "--subject", "ci", "--scope", "write", "--ttl", "1h");
    readToken = cli("token", "issue", "--key", keys.resolve("signing-key.pem").toString(),
        "--subject", "laptop", "--scope", "read", "--ttl", "1h");
    server = ServerProcess.serve(dir.resolve("data"), "--auth", "jwt", "--jwt-public-key",
        keys.resolve("verify-key.pem").toString());
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.stopAndCheck();
      assertThat(String.join("\n", server.output())).doesNotContain(writeToken).doesNotContain(readToken);
    }
  }

  @Test
  void buck2ReadToken_probeIsPermissionDenied() {
    var channel = dev.buckcache.buck2.Buck2Access.channel(server.grpcPort(), readToken);
    try {
      assertThatThrownBy(() -> dev.buckcache.buck2.Buck2Access.probe(channel))
          .hasMessageContaining("PERMISSION_DENIED");
    } finally {
      channel.shutdownNow();
    }
    var writer = dev.buckcache.buck2.Buck2Access.channel(server.grpcPort(), writeToken);
    try {
      dev.buckcache.buck2.Buck2Access.probe(writer);
    } finally {
      writer.shutdownNow();
    }
  }

  @Test
  void bazelHttpAndGrpc_writeTokenFills_readTokenHitsButCannotUpload() throws Exception {
    Clients.require("bazel");
    for (var cache : List.of(server.http(), "grpc://127.0.0.1:" + server.grpcPort())) {
      var ws = new BazelWorkspace(dir.resolve("bazel-" + cache.hashCode()));
      try {
        var writer = List.of("--remote_cache=" + cache,
            "--remote_header=Authorization=Bearer " + writeToken);
        // Over gRPC Bazel reads update_enabled=false for a read token and insists on this flag;
        // over HTTP it tries to upload and the server refuses (403), which the build survives.
        var reader = new java.util.ArrayList<>(List.of("--remote_cache=" + cache,
            "--remote_header=Authorization=Bearer " + readToken));
        if (cache.startsWith("grpc")) {
          reader.add("--remote_upload_local_results=false");
        }
        int actions = ws.cleanRebuild(writer).actions(); // may already hit: one server for both passes
        ws.bazel("clean", List.of());
        var hits = ws.bazel("build", reader);
        assertThat(BazelWorkspace.remoteHits(hits)).as(BazelWorkspace.summary(hits)).isEqualTo(actions);
        // A new action built with the read token: the build succeeds, its upload is refused.
        var build = ws.root.resolve("src/workspace/BUILD");
        Files.writeString(build, Files.readString(build).replace("echo generated", "echo changed"));
        ws.bazel("build", reader);
        ws.bazel("clean", List.of());
        var again = ws.bazel("build", reader);
        assertThat(BazelWorkspace.executed(again)).as(BazelWorkspace.summary(again)).isEqualTo(2);
        System.out.println("bazel auth " + cache.replaceAll(":\\d+", "") + ": read token rebuild "
            + BazelWorkspace.summary(hits) + "; after a change " + BazelWorkspace.summary(again));
      } finally {
        ws.shutdown();
      }
    }
  }

  @Test
  void ccacheBearerToken_remoteHits() throws Exception {
    Clients.require("ccache");
    var src = Files.createDirectories(dir.resolve("csrc"));
    Files.writeString(src.resolve("a.c"), "int a(void) { return 7; }\n");
    var env = Map.of("CCACHE_DIR", dir.resolve("ccache").toString(),
        "CCACHE_REMOTE_STORAGE", server.http() + "/ccache|layout=bazel|bearer-token=" + writeToken);
    Clients.run(src, env, 60, "ccache", "gcc", "-c", "a.c", "-o", "a.o");
    Clients.run(src, env, 60, "ccache", "-C");
    Clients.run(src, env, 60, "ccache", "-z");
    Clients.run(src, env, 60, "ccache", "gcc", "-c", "a.c", "-o", "a.o");
    var stats = Clients.run(src, env, 60, "ccache", "-s", "-v").output();
    var m = Pattern.compile("Remote storage:\\s+Hits:\\s+(\\d+)").matcher(stats);
    assertThat(m.find()).as(stats).isTrue();
    assertThat(m.group(1)).isEqualTo("1");
  }
}
