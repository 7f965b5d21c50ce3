package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real nx (npm) with NX_SELF_HOSTED_REMOTE_CACHE_SERVER at the server. CI fills the cache;
 * after {@code nx reset} and a wiped {@code dist} a laptop's read token reads the output from the
 * remote cache; its own upload is refused with 403, which Nx takes quietly (unlike a 401 or a
 * 5xx, which fail its run).
 */
class NxClientTest {
  @TempDir Path dir;

  @Test
  void afterReset_outputComesFromTheRemoteCache_readTokenUploadRefusedRunSucceeds() throws Exception {
    var nx = JsClients.require("nx");
    try (var server = TokenServer.start(dir)) {
      var ws = workspace(dir.resolve("ws"), "built app");
      var ci = build(nx, ws, server, server.writeToken);
      assertThat(ci.exitCode()).as(ci.output()).isZero();
      assertThat(ci.output()).as(ci.output()).contains("Successfully ran target build")
          .doesNotContain("[remote cache]");
      assertThat(server.requests("nx", "PUT", "ok")).isEqualTo(1);

      var laptop = build(nx, ws, server, server.readToken);
      assertThat(laptop.exitCode()).as(laptop.output()).isZero();
      assertThat(laptop.output()).as(laptop.output()).contains("nx run app:build  [remote cache]")
          .contains("Nx read the output from the cache instead of running the command for 1 out of 1 tasks");
      assertThat(Files.readString(ws.resolve("dist/out.txt"))).isEqualTo("built app\n");
      assertThat(server.requests("nx", "GET", "hit")).isEqualTo(1);

      Files.writeString(ws.resolve("project.json"), project("changed app"));
      var changed = build(nx, ws, server, server.readToken);
      assertThat(changed.exitCode()).as(changed.output()).isZero();
      assertThat(changed.output()).as(changed.output()).doesNotContain("[remote cache]");
      assertThat(Files.readString(ws.resolve("dist/out.txt"))).isEqualTo("changed app\n");
      assertThat(server.requests("nx", "PUT", "denied")).isEqualTo(1);
    }
  }

  /** An artifact over the server's limit is not stored, and the run still succeeds. */
  @Test
  void artifactOverTheLimit_notStored_runSucceeds() throws Exception {
    var nx = JsClients.require("nx");
    try (var server = dev.buckcache.process.ServerProcess.serve(dir.resolve("data"),
        "--max-blob-size", "1MB")) {
      var ws = workspace(dir.resolve("ws"), "x");
      Files.writeString(ws.resolve("project.json"), project("x").replace(
          "writeFileSync('dist/out.txt','x\\\\n')",
          "writeFileSync('dist/out.bin',require('crypto').randomBytes(3000000))"));
      var run = build(nx, ws, server.http(), null);
      assertThat(run.exitCode()).as(run.output()).isZero();
      assertThat(Files.size(ws.resolve("dist/out.bin"))).isEqualTo(3_000_000L);
      var again = build(nx, ws, server.http(), null);
      assertThat(again.exitCode()).as(again.output()).isZero();
      assertThat(again.output()).doesNotContain("[remote cache]");
      server.stopAndCheck();
    }
  }

  private static Clients.Result build(Path nx, Path ws, TokenServer server, String token)
      throws Exception {
    return build(nx, ws, server.http(), token);
  }

  /** {@code nx reset}, {@code dist} wiped, then the build: nothing local to reuse. */
  private static Clients.Result build(Path nx, Path ws, String http, String token)
      throws Exception {
    var snippet = dev.buckcache.process.ServerProcess.cliOutput(token == null
        ? new String[] {"client-config", "nx", "--url", http}
        : new String[] {"client-config", "nx", "--url", http, "--token-env", "BUCKCACHE_TOKEN"});
    var env = new java.util.HashMap<>(JsClients.exports(snippet,
        token == null ? Map.of() : Map.of("BUCKCACHE_TOKEN", token)));
    assertThat(env).containsEntry("NX_SELF_HOSTED_REMOTE_CACHE_SERVER", http);
    if (token != null) {
      assertThat(env).containsEntry("NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN", token);
    }
    env.putAll(Map.of("NX_DAEMON", "false", "NX_NO_CLOUD", "true", "NX_TUI", "false"));
    var reset = Clients.run(ws, env, 120, nx.toString(), "reset");
    assertThat(reset.exitCode()).as(reset.output()).isZero();
    TurboClientTest.deleteTree(ws.resolve("dist"));
    TurboClientTest.deleteTree(ws.resolve(".nx"));
    return Clients.run(ws, env, 180, nx.toString(), "run", "app:build");
  }

  private static String project(String text) {
    return "{\"name\":\"app\",\"targets\":{\"build\":{\"executor\":\"nx:run-commands\","
        + "\"options\":{\"command\":\"" + JsClients.buildScript(text) + "\"},"
        + "\"cache\":true,\"outputs\":[\"{projectRoot}/dist\"]}}}\n";
  }

  /**
   * One project at the workspace root whose cacheable build writes dist/out.txt. The .gitignore
   * keeps dist and .nx out of the hash (Nx reads it without git).
   */
  private static Path workspace(Path ws, String text) throws Exception {
    Files.createDirectories(ws);
    Files.writeString(ws.resolve("package.json"), "{\"name\":\"ws\",\"version\":\"0.0.0\",\"private\":true}\n");
    Files.writeString(ws.resolve("nx.json"), "{\"targetDefaults\":{\"build\":{\"cache\":true}}}\n");
    Files.writeString(ws.resolve(".gitignore"), "node_modules\ndist\n.nx\n");
    Files.writeString(ws.resolve("project.json"), project(text));
    JsClients.link(ws);
    return ws;
  }
}
