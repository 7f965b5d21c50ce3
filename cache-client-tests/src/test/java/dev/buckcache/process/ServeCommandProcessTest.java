package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code buckcache serve} as a process: start-up, SIGTERM, lock, config errors, exit codes. */
class ServeCommandProcessTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  @TempDir Path dir;

  @Test
  void serve_startsThenStopsGracefullyOnSigterm() throws Exception {
    try (var server = ServerProcess.start(Map.of(), "serve", "--dir", dir.toString(),
        "--max-size", "64MB", "--memory-size", "16MB", "--http-address", "127.0.0.1:0", "--grpc-address", "127.0.0.1:0")) {
      var ready = server.awaitLine("buckcache ready", WAIT);
      assertThat(ready).contains(dir.getFileName().toString()).contains("of 64.0MB used");
      int code = server.terminate(WAIT);
      assertThat(code).as("exit on SIGTERM").isIn(0, 143);
      server.awaitLine("stopped cleanly", WAIT);
    }
    // The store reopens after a graceful stop.
    try (var again = ServerProcess.start(Map.of(), "serve", "--dir", dir.toString(),
        "--max-size", "64MB", "--memory-size", "16MB", "--http-address", "127.0.0.1:0", "--grpc-address", "127.0.0.1:0")) {
      again.awaitLine("buckcache ready", WAIT);
      again.terminate(WAIT);
    }
  }

  @Test
  void serve_secondProcessOnSameDir_refusedWithOneClearLine() throws Exception {
    try (var first = ServerProcess.start(Map.of(), "serve", "--dir", dir.toString(),
        "--max-size", "64MB", "--memory-size", "16MB", "--http-address", "127.0.0.1:0", "--grpc-address", "127.0.0.1:0")) {
      first.awaitLine("buckcache ready", WAIT);
      try (var second = ServerProcess.start(Map.of(), "serve", "--dir", dir.toString(),
          "--max-size", "64MB", "--memory-size", "16MB", "--http-address", "127.0.0.1:0", "--grpc-address", "127.0.0.1:0")) {
        assertThat(second.waitForExit(WAIT)).isEqualTo(1);
        assertThat(String.join("\n", second.output()))
            .contains("is in use by another buckcache process");
      }
      first.terminate(WAIT);
    }
  }

  @Test
  void serve_badEnvValue_exit2_namesKeyAndSource() throws Exception {
    try (var server = ServerProcess.start(Map.of("BUCKCACHE_MAX_SIZE", "lots"), "serve",
        "--dir", dir.toString())) {
      assertThat(server.waitForExit(WAIT)).isEqualTo(2);
      assertThat(server.output()).containsExactly(
          "buckcache: invalid storage.max_size 'lots' (from env BUCKCACHE_MAX_SIZE): not a size; "
              + "use e.g. 10GB, 512MB, 1GiB or a byte count");
    }
  }

  /**
   * --memory-limit with the JVM options scripts/memory-flags prints for it (what ./buckcache and
   * the image pass): the ready line says what the process got. The same limit in a JVM whose
   * heap may grow past the plan gets a warning naming the options.
   */
  @Test
  void serve_memoryLimit_readyLineSaysTheSplit_aBiggerHeapIsWarnedAbout() throws Exception {
    var flags = new ProcessBuilder("sh", Path.of("..", "scripts", "memory-flags").toString(), "1GiB")
        .start();
    var jvm = java.util.List.of(new String(flags.getInputStream().readAllBytes(),
        java.nio.charset.StandardCharsets.UTF_8).trim().split(" ", -1));
    assertThat(flags.waitFor()).isZero();
    assertThat(jvm).containsExactly("-Xmx256m", "-XX:MaxDirectMemorySize=512m");
    String[] args = {"serve", "--dir", dir.toString(), "--max-size", "64MB", "--memory-limit",
        "1GiB", "--http-address", "127.0.0.1:0", "--grpc-address", "127.0.0.1:0"};
    try (var server = ServerProcess.startWithJvm(Map.of(), jvm, args)) {
      var ready = server.awaitLine("buckcache ready", WAIT);
      assertThat(ready).contains("memory: limit 1.1GB; heap max ")
          .contains("(requests in flight 67.1MB)")
          .contains("direct buffers max 536.9MB (memory tier 402.7MB), RocksDB cache and "
              + "memtables 167.8MB");
      assertThat(String.join("\n", server.output())).doesNotContain("may grow its heap");
      server.terminate(WAIT);
    }
    try (var server = ServerProcess.startWithJvm(Map.of(), java.util.List.of("-Xmx2g"), args)) {
      var warning = server.awaitLine("may grow its heap", WAIT);
      assertThat(warning).contains("add '-Xmx256m -XX:MaxDirectMemorySize=512m' to JAVA_OPTS");
      // Direct memory unset: the JVM allows as much as the heap; the tier still keeps to the plan.
      assertThat(server.awaitLine("buckcache ready", WAIT))
          .containsPattern("direct buffers max 2\\.\\dGB \\(memory tier 402.7MB\\)");
      server.terminate(WAIT);
    }
  }

  @Test
  void version_printsProjectVersion() throws Exception {
    try (var p = ServerProcess.start(Map.of(), "--version")) {
      assertThat(p.waitForExit(WAIT)).isZero();
      assertThat(p.output()).anySatisfy(l -> assertThat(l).startsWith("buckcache 0."));
    }
  }

  @Test
  void accessLogInJson_oneLinePerRequest_withSubject_neverTheToken() throws Exception {
    var tokens = dir.resolve("tokens.txt");
    java.nio.file.Files.writeString(tokens, "s3cret-token ci write\n");
    var args = new java.util.ArrayList<>(java.util.List.of("serve", "--dir", dir.resolve("data").toString(),
        "--max-size", "64MB", "--memory-size", "16MB", "--http-address", "127.0.0.1:0",
        "--grpc-address", "127.0.0.1:0", "--access-log", "--auth", "static",
        "--static-token-file", tokens.toString()));
    try (var server = ServerProcess.start(Map.of("BUCKCACHE_LOG_FORMAT", "json"), args.toArray(String[]::new))) {
      var ready = server.awaitLine("buckcache ready", WAIT);
      assertThat(ready).startsWith("{").contains("\"level\":\"INFO\"");
      var port = java.util.regex.Pattern.compile("http on 127.0.0.1:(\\d+)").matcher(ready);
      assertThat(port.find()).isTrue();
      var http = java.net.http.HttpClient.newHttpClient();
      var get = java.net.http.HttpRequest.newBuilder(java.net.URI.create(
          "http://127.0.0.1:" + port.group(1) + "/cas/" + "e".repeat(64)))
          .header("Authorization", "Bearer s3cret-token").build();
      assertThat(http.send(get, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(404);
      var line = server.awaitLine("buckcache.access", WAIT);
      assertThat(line).contains("http GET cas " + "e".repeat(64) + " 404").contains("sub=ci");
      server.terminate(WAIT);
      assertThat(String.join("\n", server.output())).doesNotContain("s3cret-token");
    }
  }
}
