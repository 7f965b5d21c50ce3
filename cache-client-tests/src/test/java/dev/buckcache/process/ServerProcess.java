package dev.buckcache.process;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** A real buckcache server process (the shaded jar), as a user or container starts it. */
public final class ServerProcess implements AutoCloseable {
  private final Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();

  private ServerProcess(Process process) {
    this.process = process;
    // A test that fails before it stops its server must not leave it running past the JVM.
    Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly));
    var pump = new Thread(() -> {
      try (var in = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          output.add(line);
        }
      } catch (IOException e) {
        // the process ended
      }
    }, "server-output");
    pump.setDaemon(true);
    pump.start();
  }

  public static Path jar() {
    var jar = Path.of(System.getProperty("buckcache.jar", "../cache-server/target/buckcache.jar"));
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("no server jar at " + jar + ": run mvn package first");
    }
    return jar;
  }

  public static ServerProcess start(Map<String, String> env, String... args) throws IOException {
    return startWithJvm(env, List.of("-Xmx512m"), args);
  }

  /** Starts with the given JVM options (the heap size first of all). */
  public static ServerProcess startWithJvm(Map<String, String> env, List<String> jvm,
      String... args) throws IOException {
    var command = new ArrayList<String>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvm);
    // Extra JVM options for every server a test starts, for profiling (e.g. -XX:StartFlightRecording).
    var extra = System.getenv().getOrDefault("BUCKCACHE_TEST_JVM_OPTS", "").trim();
    if (!extra.isEmpty()) {
      command.addAll(List.of(extra.split("\\s+")));
    }
    // Tests hunt leaks; a benchmark run sets BUCKCACHE_TEST_LEAK_DETECTION=disabled.
    command.add("-Dio.netty.leakDetection.level="
        + System.getenv().getOrDefault("BUCKCACHE_TEST_LEAK_DETECTION", "paranoid"));
    command.addAll(List.of("-jar", jar().toString()));
    command.addAll(List.of(args));
    var builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().keySet().removeIf(k -> k.startsWith("BUCKCACHE_"));
    builder.environment().putAll(env);
    return new ServerProcess(builder.start());
  }

  /** Waits until a line containing {@code text} appears; fails if the process exits first. */
  public String awaitLine(String text, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      for (var line : output) {
        if (line.contains(text)) {
          return line;
        }
      }
      if (!process.isAlive()) {
        Thread.sleep(200); // let the pump read the last lines
        for (var line : output) {
          if (line.contains(text)) {
            return line;
          }
        }
        throw new AssertionError("server exited (" + process.exitValue() + ") before printing '"
            + text + "':\n" + String.join("\n", output));
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no '" + text + "' within " + timeout + ":\n" + String.join("\n", output));
  }

  /** Sends SIGTERM and waits for the exit code. */
  public int terminate(Duration timeout) throws InterruptedException {
    // Process.destroy() would also close our end of its stdout and lose its last lines.
    process.toHandle().destroy();
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("server did not stop within " + timeout);
    }
    return process.exitValue();
  }

  /** SIGKILL: no shutdown hook, no flush; returns once the process is gone. */
  public void kill() throws InterruptedException {
    process.toHandle().destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError("server survived SIGKILL for 30 s");
    }
  }

  public int waitForExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("process did not exit within " + timeout);
    }
    Thread.sleep(100);
    return process.exitValue();
  }

  /** Runs a one-shot CLI command (keygen, token issue, ...); its last output line, or fails. */
  public static String cli(String... args) throws Exception {
    var output = runCli(args);
    return output.get(output.size() - 1).trim();
  }

  /** Runs a one-shot CLI command that prints a document (client-config); all it printed. */
  public static String cliOutput(String... args) throws Exception {
    return String.join("\n", runCli(args)) + "\n";
  }

  private static List<String> runCli(String... args) throws Exception {
    try (var p = start(Map.of(), args)) {
      int exit = p.waitForExit(Duration.ofSeconds(60));
      if (exit != 0) {
        throw new AssertionError("buckcache " + String.join(" ", args) + " exited " + exit + ":\n"
            + String.join("\n", p.output()));
      }
      return p.output();
    }
  }

  /** Starts {@code serve} on a free loopback port and waits until it is ready. */
  public static ServerProcess serve(Path dir, String... extra) throws Exception {
    return serve(Map.of(), dir, extra);
  }

  /** Like {@link #serve(Path, String...)} with extra environment (e.g. BUCKCACHE_LOG_LEVEL). */
  public static ServerProcess serve(Map<String, String> env, Path dir, String... extra) throws Exception {
    return serve(env, List.of("-Xmx512m"), dir, extra);
  }

  /** Like {@link #serve(Path, String...)}, with extra environment and the JVM's options. */
  public static ServerProcess serve(Map<String, String> env, List<String> jvm, Path dir,
      String... extra) throws Exception {
    var args = new ArrayList<>(List.of("serve", "--dir", dir.toString()));
    var given = List.of(extra);
    var defaults = List.of("--max-size", "256MB", "--memory-size", "32MB",
        "--http-address", "127.0.0.1:0", "--grpc-address", "127.0.0.1:0");
    for (int i = 0; i < defaults.size(); i += 2) {
      if (!given.contains(defaults.get(i))) {
        args.add(defaults.get(i));
        args.add(defaults.get(i + 1));
      }
    }
    args.addAll(given);
    var server = startWithJvm(env, jvm, args.toArray(String[]::new));
    var ready = server.awaitLine("buckcache ready", Duration.ofSeconds(60));
    var m = java.util.regex.Pattern.compile("http on ([0-9.]+:\\d+)").matcher(ready);
    if (!m.find()) {
      server.close();
      throw new AssertionError("no http address in: " + ready);
    }
    server.http = "http://" + m.group(1);
    var g = java.util.regex.Pattern.compile("grpc on ([0-9.]+):(\\d+)").matcher(ready);
    if (g.find()) {
      server.grpcPort = Integer.parseInt(g.group(2));
    }
    return server;
  }

  private String http;
  private int grpcPort;

  /** Port of the gRPC front end on 127.0.0.1. */
  public int grpcPort() {
    return grpcPort;
  }

  /** Port of the HTTP front end on 127.0.0.1; it serves gRPC too. */
  public int httpPort() {
    return Integer.parseInt(http.substring(http.lastIndexOf(':') + 1));
  }

  /** Base URL of the HTTP front end, e.g. http://127.0.0.1:41234. */
  public String http() {
    return http;
  }

  /** Stops with SIGTERM and checks the shutdown was clean and Netty reported no leaks. */
  public void stopAndCheck() throws InterruptedException {
    terminate(Duration.ofSeconds(60));
    awaitLine("stopped cleanly", Duration.ofSeconds(10));
    var leaks = output().stream().filter(l -> l.contains("LEAK:")).toList();
    if (!leaks.isEmpty()) {
      throw new AssertionError("server reported Netty leaks:\n" + String.join("\n", leaks));
    }
  }

  public long pid() {
    return process.pid();
  }

  public List<String> output() {
    return List.copyOf(output);
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
