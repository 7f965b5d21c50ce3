package dev.buckcache.process;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real S3 server for the shared-tier tests: s3proxy (Maven Central, copied to
 * {@code target/s3proxy/s3proxy.jar} by the build) on its filesystem backend with SigV4 auth on,
 * as a child process on a loopback port. It can be stopped and started again on the same port
 * and data, to play a bucket outage.
 */
public final class S3ProxyServer implements AutoCloseable {
  public static final String BUCKET = "cache";
  public static final String IDENTITY = "buckcache-test";
  public static final String SECRET = "buckcache-test-secret";

  private final Path dir;
  private final int port;
  private Process process;

  private S3ProxyServer(Path dir, int port) {
    this.dir = dir;
    this.port = port;
  }

  /** Starts s3proxy with one bucket, {@link #BUCKET}, its data under {@code dir}. */
  public static S3ProxyServer start(Path dir) throws Exception {
    Files.createDirectories(dir.resolve("data").resolve(BUCKET));
    IOException last = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      var server = new S3ProxyServer(dir, freePort());
      try {
        server.start();
        return server;
      } catch (IOException e) { // the port was taken between the probe and the start
        last = e;
        server.close();
      }
    }
    throw last;
  }

  private static int freePort() throws IOException {
    try (var socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  public static Path jar() {
    var jar = Path.of(System.getProperty("s3proxy.jar", "target/s3proxy/s3proxy.jar"));
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("no s3proxy jar at " + jar + ": run mvn test-compile first");
    }
    return jar;
  }

  /** Starts (again) on this server's port and data; waits until it answers. */
  public void start() throws IOException, InterruptedException {
    var properties = dir.resolve("s3proxy.properties");
    Files.writeString(properties, String.join("\n",
        "s3proxy.endpoint=" + endpoint(),
        "s3proxy.authorization=aws-v2-or-v4",
        "s3proxy.identity=" + IDENTITY,
        "s3proxy.credential=" + SECRET,
        "jclouds.provider=filesystem",
        "jclouds.filesystem.basedir=" + dir.resolve("data"),
        "jclouds.identity=" + IDENTITY,
        "jclouds.credential=" + SECRET, ""));
    var command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
        "-jar", jar().toString(), "--properties", properties.toString()));
    process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("s3proxy.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("s3proxy exited " + process.exitValue() + ":\n" + log());
      }
      if (answers()) {
        return;
      }
      Thread.sleep(100);
    }
    throw new IOException("s3proxy did not answer on " + endpoint() + " in 60 s:\n" + log());
  }

  /** True once the server answers HTTP at all (an unsigned request is refused: 403). */
  private boolean answers() {
    try {
      var c = (HttpURLConnection) URI.create(endpoint() + "/").toURL().openConnection();
      c.setConnectTimeout(500);
      c.setReadTimeout(2000);
      int code = c.getResponseCode();
      c.disconnect();
      return code > 0;
    } catch (IOException e) {
      return false;
    }
  }

  private String log() {
    try {
      return Files.readString(dir.resolve("s3proxy.log"));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Stops it at once (the bucket's data stays). */
  public void stop() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  public String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  /** Objects stored under {@code prefix} in the bucket (the filesystem backend's files). */
  public long objectCount(String prefix) throws IOException {
    var root = dir.resolve("data").resolve(BUCKET);
    try (var files = Files.walk(root)) {
      return files.filter(Files::isRegularFile)
          .filter(f -> root.relativize(f).toString().startsWith(prefix)).count();
    }
  }

  /** The environment a buckcache node needs for this bucket: credentials, no instance metadata. */
  public static Map<String, String> credentials() {
    return Map.of("AWS_ACCESS_KEY_ID", IDENTITY, "AWS_SECRET_ACCESS_KEY", SECRET,
        "AWS_EC2_METADATA_DISABLED", "true");
  }

  /** The serve flags that put a node on this bucket. */
  public List<String> nodeFlags(String durability) {
    return List.of("--s3-bucket", BUCKET, "--s3-endpoint", endpoint(), "--s3-path-style",
        "--s3-durability", durability);
  }

  @Override
  public void close() {
    if (process != null) {
      process.destroyForcibly();
      try {
        process.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
