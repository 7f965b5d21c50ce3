package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real turbo (npm) with TURBO_API at the server: a two-package npm workspace built with
 * {@code --cache=remote:rw}. CI fills the cache; after {@code .turbo} and {@code dist} are wiped
 * a laptop's read token gets FULL TURBO; its upload is refused with the 403 turbo understands
 * (it warns once and goes on reading). Signed artifacts hit too, since the tag comes back.
 */
class TurboClientTest {
  @TempDir Path dir;

  @Test
  void wipedWorkspace_fullTurboFromTheRemoteCache_readTokenUploadRefusedBuildGoesOn() throws Exception {
    var turbo = JsClients.require("turbo");
    try (var server = TokenServer.start(dir)) {
      var ws = workspace(dir.resolve("ws"), false);
      var ci = run(turbo, ws, server, server.writeToken, "web");
      assertThat(ci.exitCode()).as(ci.output()).isZero();
      assertThat(ci.output()).as(ci.output()).contains("Remote caching enabled")
          .contains("a:build: cache miss, executing").contains("b:build: cache miss, executing")
          .contains("Cached:    0 cached, 2 total");
      assertNoCacheWarning(ci);
      assertThat(server.requests("turbo", "PUT", "ok")).isEqualTo(2);

      wipe(ws);
      var laptop = run(turbo, ws, server, server.readToken, "web");
      assertThat(laptop.exitCode()).as(laptop.output()).isZero();
      assertThat(laptop.output()).as(laptop.output()).contains("a:build: cache hit")
          .contains("b:build: cache hit").contains("Cached:    2 cached, 2 total").contains("FULL TURBO");
      assertNoCacheWarning(laptop);
      assertThat(Files.readString(ws.resolve("packages/a/dist/out.txt"))).isEqualTo("built a\n");

      // Another team (instance) has its own entries.
      wipe(ws);
      var other = run(turbo, ws, server, server.writeToken, "mobile");
      assertThat(other.output()).as(other.output()).contains("Cached:    0 cached, 2 total");

      // A change on the laptop builds locally; its upload is refused and the run succeeds.
      Files.writeString(ws.resolve("packages/a/package.json"), pkg("a", "changed a"));
      wipe(ws);
      var changed = run(turbo, ws, server, server.readToken, "web");
      assertThat(changed.exitCode()).as(changed.output()).isZero();
      assertThat(changed.output()).as(changed.output()).contains("a:build: cache miss, executing")
          .contains("b:build: cache hit").contains("Remote cache rejected an upload with 403");
      assertThat(server.requests("turbo", "PUT", "denied")).isEqualTo(1);
    }
  }

  @Test
  void signedArtifacts_tagComesBack_hitsAfterWipe() throws Exception {
    var turbo = JsClients.require("turbo");
    try (var server = TokenServer.start(dir)) {
      var ws = workspace(dir.resolve("ws"), true);
      var first = run(turbo, ws, server, server.writeToken, "web");
      assertThat(first.exitCode()).as(first.output()).isZero();
      wipe(ws);
      var second = run(turbo, ws, server, server.writeToken, "web");
      assertThat(second.output()).as(second.output()).contains("Cached:    2 cached, 2 total")
          .contains("FULL TURBO");
    }
  }

  /** What turbo prints when the remote cache answered it wrong, or not at all. */
  private static void assertNoCacheWarning(Clients.Result r) {
    assertThat(r.output()).as(r.output()).doesNotContain("Remote caching unavailable")
        .doesNotContain("failed to contact remote cache").doesNotContain("rejected");
  }

  private static Clients.Result run(Path turbo, Path ws, TokenServer server, String token,
      String team) throws Exception {
    var snippet = dev.buckcache.process.ServerProcess.cliOutput("client-config", "turbo", "--url",
        server.http(), "--token-env", "BUCKCACHE_TOKEN", "--instance", team);
    var env = new HashMap<>(JsClients.exports(snippet, Map.of("BUCKCACHE_TOKEN", token)));
    assertThat(env).containsEntry("TURBO_API", server.http()).containsEntry("TURBO_TEAM", team)
        .containsEntry("TURBO_TOKEN", token);
    env.put("DO_NOT_TRACK", "1");
    env.put("TURBO_REMOTE_CACHE_SIGNATURE_KEY", "a signing key of at least thirty-two bytes");
    return Clients.run(ws, env, 120, turbo.toString(), "run", "build", "--cache=remote:rw");
  }

  private static void wipe(Path ws) throws Exception {
    for (var p : new String[] {".turbo", "packages/a/.turbo", "packages/b/.turbo",
        "packages/a/dist", "packages/b/dist"}) {
      deleteTree(ws.resolve(p));
    }
  }

  static void deleteTree(Path root) throws Exception {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      for (var p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  private static String pkg(String name, String text) {
    return "{\"name\":\"" + name + "\",\"version\":\"1.0.0\",\"private\":true,\"scripts\":{\"build\":\""
        + JsClients.buildScript(text) + "\"}}\n";
  }

  /** Two packages whose build writes dist/out.txt, declared as the task's outputs. */
  private static Path workspace(Path ws, boolean signed) throws Exception {
    Files.createDirectories(ws);
    var npm = Clients.run(ws, Map.of(), 60, "npm", "--version").output().trim();
    Files.writeString(ws.resolve("package.json"), "{\"name\":\"ws\",\"private\":true,"
        + "\"packageManager\":\"npm@" + npm + "\",\"workspaces\":[\"packages/*\"]}\n");
    Files.writeString(ws.resolve("turbo.json"), "{\"tasks\":{\"build\":{\"outputs\":[\"dist/**\"]}}"
        + (signed ? ",\"remoteCache\":{\"signature\":true}" : "") + "}\n");
    for (var name : new String[] {"a", "b"}) {
      var pkg = Files.createDirectories(ws.resolve("packages/" + name));
      Files.writeString(pkg.resolve("package.json"), pkg(name, "built " + name));
    }
    JsClients.link(ws);
    return ws;
  }
}
