package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Debian's Gradle (4.4.1) with its HTTP build cache pointed at {@code /gradle/}, credentials as
 * Gradle sends them (Basic, the token as password). CI fills the cache with a write token; a
 * laptop with a read token, after {@code clean} and with no local cache, gets every compile from
 * the remote cache; its own push is refused (403), which Gradle warns about and builds on.
 */
class GradleClientTest {
  @TempDir Path dir;

  @Test
  void cleanBuild_compilesComeFromTheRemoteCache_readTokenPushRefusedBuildGoesOn() throws Exception {
    Clients.require("gradle");
    try (var server = TokenServer.start(dir)) {
      var project = project(dir.resolve("project"), server.http());
      var ci = gradle(project, server.writeToken, "jar");
      assertThat(ci.exitCode()).as(ci.output()).isZero();
      assertThat(ci.output()).as(ci.output()).doesNotContain("FROM-CACHE").doesNotContain("Could not");
      assertThat(server.requests("gradle", "PUT", "ok")).isEqualTo(2);

      var laptop = gradle(project, server.readToken, "clean", "jar");
      assertThat(laptop.exitCode()).as(laptop.output()).isZero();
      assertThat(fromCache(laptop.output())).as(laptop.output()).isEqualTo(2);
      assertThat(laptop.output()).doesNotContain("Could not").doesNotContain("disabled");
      assertThat(server.requests("gradle", "GET", "hit")).isEqualTo(2);
      assertThat(project.resolve("a/build/libs/a.jar")).exists();

      // A change on the laptop compiles locally; its push is refused and the build goes on.
      Files.writeString(project.resolve("a/src/main/java/a/A.java"),
          "package a;\npublic class A { public static int two() { return 2; } }\n");
      var changed = gradle(project, server.readToken, "jar");
      assertThat(changed.exitCode()).as(changed.output()).isZero();
      assertThat(changed.output()).contains("BUILD SUCCESSFUL")
          .containsPattern("Could not store entry \\w+ for task ':a:compileJava' in remote build cache: .*403");
      assertThat(server.requests("gradle", "PUT", "denied")).isEqualTo(1);
    }
  }

  private static long fromCache(String output) {
    return Pattern.compile("^:[ab]:compileJava FROM-CACHE$", Pattern.MULTILINE).matcher(output).results().count();
  }

  /**
   * Two Java subprojects: two cacheable compile tasks. The remote cache is configured with what
   * {@code buckcache client-config gradle} prints; the local cache is off, so only the remote one
   * can serve.
   */
  static Path project(Path root, String http) throws Exception {
    Files.createDirectories(root);
    var snippet = dev.buckcache.process.ServerProcess.cliOutput("client-config", "gradle", "--url",
        http, "--token-env", "BUCKCACHE_TOKEN");
    assertThat(snippet).contains("url = '" + http + "/gradle/'");
    Files.writeString(root.resolve("settings.gradle"), "rootProject.name = 'demo'\n"
        + "include 'a', 'b'\n" + snippet + "buildCache { local { enabled = false } }\n");
    Files.writeString(root.resolve("build.gradle"), "subprojects { apply plugin: 'java' }\n");
    for (var name : new String[] {"a", "b"}) {
      var src = Files.createDirectories(root.resolve(name + "/src/main/java/" + name));
      var cls = name.toUpperCase(java.util.Locale.ROOT);
      Files.writeString(src.resolve(cls + ".java"), "package " + name + ";\npublic class " + cls
          + " { public static int one() { return 1; } }\n");
    }
    return root;
  }

  /** One Gradle run: no daemon, plain console, its own user home (no cache shared with the machine). */
  static Clients.Result gradle(Path project, String token, String... tasks) throws Exception {
    var command = new java.util.ArrayList<>(java.util.List.of("gradle", "--build-cache",
        "--no-daemon", "--console=plain", "--gradle-user-home",
        project.resolveSibling("gradle-home").toString()));
    command.addAll(java.util.List.of(tasks));
    return Clients.run(project, Map.of("BUCKCACHE_TOKEN", token), 300, command);
  }
}
