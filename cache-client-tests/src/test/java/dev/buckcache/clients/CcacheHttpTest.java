package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;
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
      Clients.run(src, env, 60, "ccache", "-z");
      compileAll(src, env);
      var stats = Clients.run(src, env, 60, "ccache", "-s", "-v").output();
      var remote = Pattern.compile("Remote storage:\\s+Hits:\\s+(\\d+)").matcher(stats);
      assertThat(remote.find()).as(stats).isTrue();
      assertThat(Integer.parseInt(remote.group(1))).as(stats).isEqualTo(4);
      server.stopAndCheck();
    }
  }

  private static void compileAll(Path src, Map<String, String> env) throws Exception {
    for (int i = 0; i < 4; i++) {
      var r = Clients.run(src, env, 120, "ccache", "gcc", "-c", "f" + i + ".c", "-o", "f" + i + ".o");
      assertThat(r.exitCode()).as(r.output()).isZero();
    }
  }
}
