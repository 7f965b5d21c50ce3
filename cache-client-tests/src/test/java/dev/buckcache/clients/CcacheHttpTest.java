package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ccache with remote_storage=http://…|layout=bazel against the default server config. */
class CcacheHttpTest {
  @TempDir Path dir;

  @Test
  void wipedLocalCache_compilesAreRemoteHits() throws Exception {
    Clients.require("ccache");
    Clients.require("gcc");
    try (var server = ServerProcess.serve(dir.resolve("data"))) {
      var src = Files.createDirectories(dir.resolve("src"));
      for (int i = 0; i < 4; i++) {
        Files.writeString(src.resolve("f" + i + ".c"), "int f" + i + "(int x) { return x * " + i + "; }\n");
      }
      var env = Map.of("CCACHE_DIR", dir.resolve("ccache").toString(),
          "CCACHE_REMOTE_STORAGE", server.http() + "/ccache|layout=bazel");
      compileAll(src, env);
      Clients.run(src, env, 60, "ccache", "-C");
      assertThat(remoteHits(src, env)).isEqualTo(4);
      server.stopAndCheck();
    }
  }

  /**
   * With auth on, configured as {@code buckcache client-config ccache --token-env} prints it: the
   * token as bearer-token, which ccache expands from the environment. CI's write token
   * fills; a read token with the --read-only snippet gets every compile from the remote cache.
   */
  @Test
  void clientConfigSnippet_tokenAsPassword_readOnlyLaptopHitsEverything() throws Exception {
    Clients.require("ccache");
    Clients.require("gcc");
    try (var server = TokenServer.start(dir)) {
      var src = Files.createDirectories(dir.resolve("src"));
      for (int i = 0; i < 4; i++) {
        Files.writeString(src.resolve("f" + i + ".c"), "int g" + i + "(int x) { return x + " + i + "; }\n");
      }
      var ci = config("ci.conf", server, false);
      compileAll(src, Map.of("CCACHE_DIR", dir.resolve("ccache-ci").toString(),
          "CCACHE_CONFIGPATH", ci.toString(), "BUCKCACHE_TOKEN", server.writeToken));
      assertThat(server.requests("ac", "PUT", "ok")).isGreaterThanOrEqualTo(4); // result and manifest
      var laptop = Map.of("CCACHE_DIR", dir.resolve("ccache-laptop").toString(),
          "CCACHE_CONFIGPATH", config("laptop.conf", server, true).toString(),
          "BUCKCACHE_TOKEN", server.readToken);
      assertThat(remoteHits(src, laptop)).isEqualTo(4);
      assertThat(server.requests("ac", "PUT", "denied")).isZero(); // read-only: it never tried
    }
  }

  private Path config(String name, TokenServer server, boolean readOnly) throws Exception {
    var args = new java.util.ArrayList<>(java.util.List.of("client-config", "ccache", "--url",
        server.http(), "--token-env", "BUCKCACHE_TOKEN"));
    if (readOnly) {
      args.add("--read-only");
    }
    var snippet = ServerProcess.cliOutput(args.toArray(String[]::new));
    assertThat(snippet).contains("|bearer-token=${BUCKCACHE_TOKEN}");
    var file = dir.resolve(name);
    Files.writeString(file, snippet);
    return file;
  }

  /** Stats zeroed, all four compiled again: how many came from the remote storage. */
  private static int remoteHits(Path src, Map<String, String> env) throws Exception {
    Clients.run(src, env, 60, "ccache", "-z");
    compileAll(src, env);
    return Clients.ccacheRemoteHits(src, env);
  }

  private static void compileAll(Path src, Map<String, String> env) throws Exception {
    for (int i = 0; i < 4; i++) {
      var r = Clients.run(src, env, 120, "ccache", "gcc", "-c", "f" + i + ".c", "-o", "f" + i + ".o");
      assertThat(r.exitCode()).as(r.output()).isZero();
    }
  }
}
