package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.PortBinding;
import com.github.dockerjava.api.model.Ports;
import dev.buckcache.buck2.Buck2Access;
import dev.buckcache.digest.DigestFunction;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

/**
 * The repository's Dockerfile, built and run with podman (no Docker engine here): the image runs
 * as a non-root user, refuses to start open on 0.0.0.0, serves curl and Bazel through published
 * ports, keeps its data in the /data volume across a restart, passes its own HEALTHCHECK, stops
 * cleanly on SIGTERM, and starts under Testcontainers through podman's Docker-compatible API.
 *
 * <p>No registry is reachable, so the Dockerfile's two base images are stand-ins built from a
 * debootstrap rootfs (test resource {@code container/bases.Containerfile}), passed as build args.
 *
 * <p>Every test talks to the container only through ports published on 127.0.0.1 (podman's
 * bridge address would be a non-loopback peer), and checks it: {@link LoopbackOnly} records the
 * TCP peers of this JVM and its child processes during each test, and all must be loopback.
 */
class ContainerImageTest {
  static final String IMAGE = "localhost/buckcache:test";
  static final String MINBASE = "localhost/debian-minbase:bookworm";
  static final String LABEL = "dev.buckcache.test=container-image";
  static final String TOKEN = "container-test-" + UUID.randomUUID();
  static final Path WORK = Path.of("target", "container-test").toAbsolutePath();
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  static Map<String, String> env;
  static Process apiService;
  LoopbackOnly peers;

  @BeforeAll
  static void buildImage() throws Exception {
    Clients.require("podman");
    Files.createDirectories(WORK);
    // The sandbox's default runtime (crun) fails and ulimits cannot be raised: runc, fixed limits.
    var conf = WORK.resolve("containers.conf");
    Files.writeString(conf, """
        [engine]
        runtime = "runc"
        [containers]
        default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
        """);
    env = Map.of("CONTAINERS_CONF", conf.toString());
    if (podman(60, "image", "exists", MINBASE).exitCode() != 0) {
      Clients.require("debootstrap");
      var rootfs = WORK.resolve("rootfs");
      ok(Clients.run(WORK, env, 900, "debootstrap", "--variant=minbase", "bookworm", rootfs.toString(),
          "http://deb.debian.org/debian"), "debootstrap");
      ok(Clients.run(WORK, env, 300, "sh", "-c",
          "tar -C rootfs -c . | podman import - " + MINBASE), "podman import");
      Clients.run(WORK, env, 120, "rm", "-rf", rootfs.toString());
    }
    var bases = Path.of(ContainerImageTest.class.getResource("/container/bases.Containerfile").toURI());
    var empty = Files.createDirectories(WORK.resolve("empty-context"));
    for (var target : List.of("jre", "maven")) {
      ok(podman(900, "build", "--network=host", "-f", bases.toString(), "--target", target,
          "-t", "localhost/buckcache-test-" + target + ":17", empty.toString()), "base " + target);
    }
    // --format docker keeps HEALTHCHECK (OCI images have no field for it). The host's Maven
    // repository is lent to the build stage so it does not download the world again.
    var m2 = Path.of(System.getProperty("user.home"), ".m2");
    Files.createDirectories(m2);
    var build = podman(1200, "build", "--format", "docker", "--network=host",
        "-v", m2 + ":/root/.m2", "--build-arg", "BUILD_IMAGE=localhost/buckcache-test-maven:17",
        "--build-arg", "RUNTIME_IMAGE=localhost/buckcache-test-jre:17", "-t", IMAGE, ROOT.toString());
    ok(build, "podman build of the Dockerfile");
  }

  @BeforeEach
  void watchPeers() {
    peers = LoopbackOnly.watch(WORK);
  }

  @AfterEach
  void onlyLoopbackPeers() throws Exception {
    var seen = peers.stop();
    System.out.println("container test peers: " + seen);
    assertThat(peers.samples()).as("the socket sampler ran").isPositive();
    assertThat(LoopbackOnly.notLoopback(seen)).as("peers outside 127.0.0.0/8 and ::1").isEmpty();
  }

  @AfterAll
  static void cleanUp() throws Exception {
    if (env != null) {
      podman(120, "rm", "-f", "-t", "5", "--filter", "label=" + LABEL);
      podman(60, "volume", "prune", "-f", "--filter", "label=" + LABEL);
    }
    if (apiService != null) {
      apiService.destroy();
      apiService.waitFor(10, TimeUnit.SECONDS);
    }
  }

  static Clients.Result podman(long timeoutSeconds, String... args) throws Exception {
    var command = new ArrayList<String>();
    command.add("podman");
    command.addAll(List.of(args));
    return Clients.run(WORK, env, timeoutSeconds, command);
  }

  static Clients.Result ok(Clients.Result r, String what) {
    if (r.exitCode() != 0) {
      fail(what + " failed (exit " + r.exitCode() + "):\n" + tail(r.output()));
    }
    return r;
  }

  static String tail(String s) {
    return s.length() > 6000 ? "..." + s.substring(s.length() - 6000) : s;
  }

  static int freePort() throws Exception {
    try (var s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void image_nonRootUser_dataVolume_ports_healthcheck() throws Exception {
    var config = ok(podman(60, "image", "inspect", "--format",
        "{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Volumes}}|{{json .HealthCheck}}",
        IMAGE), "inspect").output().trim();
    var parts = config.split("\\|", -1);
    assertThat(parts[0]).isEqualTo("10001:10001");
    assertThat(parts[1]).contains("8080/tcp").contains("9092/tcp");
    assertThat(parts[2]).contains("/data");
    assertThat(parts[3]).contains("healthcheck");
  }

  @Test
  void withoutAuth_refusesToListenOnAllAddresses_withOneClearLine() throws Exception {
    var r = podman(120, "run", "--rm", "--label", LABEL, IMAGE);
    assertThat(r.exitCode()).as(r.output()).isEqualTo(2);
    assertThat(r.output()).contains("invalid http.address '0.0.0.0:8080' (from env BUCKCACHE_HTTP_ADDRESS)")
        .contains("set AUTH_TOKEN");
  }

  /** The entry point sizes the JVM from BUCKCACHE_MEMORY_LIMIT (or --memory-limit) first. */
  @Test
  void memoryLimit_entryPointSizesTheJvm_aBadOneRefusedBeforeJavaStarts() throws Exception {
    var bad = podman(120, "run", "--rm", "--label", LABEL, IMAGE, "serve", "--memory-limit", "100MB");
    assertThat(bad.exitCode()).as(bad.output()).isEqualTo(2);
    assertThat(bad.output()).contains("memory limit 100MB is under the 512MiB minimum");
    var name = "buckcache-test-" + UUID.randomUUID();
    ok(podman(120, "run", "-d", "--name", name, "--label", LABEL, "-e", "BUCKCACHE_MEMORY_LIMIT=1GiB",
        "-e", "BUCKCACHE_INSECURE_NO_AUTH=true", IMAGE), "podman run");
    try {
      String logs = "";
      for (int i = 0; i < 600 && !logs.contains("buckcache ready"); i++) {
        Thread.sleep(100);
        logs = podman(30, "logs", name).output();
      }
      assertThat(logs).contains("memory: limit 1.1GB; heap max ")
          .contains("direct buffers max 536.9MB (memory tier 402.7MB), RocksDB cache and "
              + "memtables 167.8MB")
          .doesNotContain("may grow its heap");
    } finally {
      podman(60, "rm", "-f", "-t", "5", name);
    }
  }

  @Test
  void curlAndBazel_dataSurvivesRestartInTheVolume_healthcheckPasses_stopsCleanly() throws Exception {
    Clients.require("curl");
    Clients.require("bazel");
    // Only 8080 is published, as in the one-port `docker run -p 8080:8080`: gRPC goes there too.
    int http = freePort();
    var volume = "buckcache-test-" + UUID.randomUUID();
    ok(podman(60, "volume", "create", "--label", LABEL, volume), "volume create");
    var first = "buckcache-test-" + UUID.randomUUID();
    var second = "buckcache-test-" + UUID.randomUUID();
    var run = List.of("run", "-d", "--label", LABEL, "-p", "127.0.0.1:" + http + ":8080",
        "-v", volume + ":/data", "-e", "AUTH_TOKEN=" + TOKEN,
        "-e", "BUCKCACHE_MAX_SIZE=256MB", IMAGE);
    var base = "http://127.0.0.1:" + http;
    var ws = new BazelWorkspace(WORK.resolve("bazel-" + UUID.randomUUID()));
    var auth = "--remote_header=Authorization=Bearer " + TOKEN;
    var blob = ("built in a container " + UUID.randomUUID()).getBytes(StandardCharsets.UTF_8);
    var hash = DigestFunction.SHA256.hash(blob);
    try {
      ok(podman(120, withName(run, first)), "podman run");
      awaitHealthy(base);
      assertThat(ok(podman(60, "healthcheck", "run", first), "healthcheck").exitCode()).isZero();

      // curl through the published port: the caller is not loopback to the server, so a token
      // is needed for writes and for /metrics.
      var file = WORK.resolve("blob-" + hash);
      Files.write(file, blob);
      assertThat(curl("-X", "PUT", "--data-binary", "@" + file, base + "/cas/" + hash)).isEqualTo("401");
      assertThat(curl("-X", "PUT", "-H", "Authorization: Bearer " + TOKEN, "--data-binary", "@" + file,
          base + "/cas/" + hash)).isEqualTo("200");
      assertThat(curl("-X", "PUT", "-H", "Authorization: Bearer " + TOKEN, "--data-binary", "@" + file,
          base + "/cas/" + "0".repeat(64))).isEqualTo("400");
      assertThat(curl(base + "/metrics")).isEqualTo("401");
      assertThat(curl("-H", "Authorization: Bearer " + TOKEN, base + "/metrics")).isEqualTo("200");

      // Bazel over HTTP fills the cache.
      var fill = ws.bazel("build", List.of("--remote_cache=" + base, auth));
      assertThat(BazelWorkspace.executed(fill)).as(BazelWorkspace.summary(fill)).isGreaterThan(4);
      int actions = BazelWorkspace.executed(fill) + BazelWorkspace.remoteHits(fill);

      // docker stop: SIGTERM to java as PID 1, graceful shutdown.
      ok(podman(90, "stop", "-t", "30", first), "podman stop");
      var logs = podman(60, "logs", first).output();
      assertThat(logs).contains("buckcache ready").contains("stopped cleanly").doesNotContain(TOKEN);
      // 143 = 128 + SIGTERM: the JVM's exit status after its shutdown hooks ran, not a kill.
      assertThat(podman(30, "inspect", "--format", "{{.State.ExitCode}}", first).output().trim())
          .isEqualTo("143");

      // A new container on the same volume serves what the first stored: the blob to curl, and
      // every action of a clean Bazel build, this time over gRPC on the same (HTTP) port.
      ok(podman(120, withName(run, second)), "podman run (restart)");
      awaitHealthy(base);
      var got = WORK.resolve("got-" + hash);
      assertThat(curl("-H", "Authorization: Bearer " + TOKEN, "-o", got.toString(), base + "/cas/" + hash))
          .isEqualTo("200");
      assertThat(Files.readAllBytes(got)).isEqualTo(blob);
      ws.bazel("clean", List.of());
      var rebuild = ws.bazel("build", List.of("--remote_cache=grpc://127.0.0.1:" + http, auth));
      System.out.println("container: first build " + BazelWorkspace.summary(fill)
          + "; after restart and clean, over gRPC " + BazelWorkspace.summary(rebuild));
      assertThat(BazelWorkspace.remoteHits(rebuild)).as(BazelWorkspace.summary(rebuild)).isEqualTo(actions);
      assertThat(BazelWorkspace.executed(rebuild)).isZero();
      ok(podman(90, "stop", "-t", "30", second), "podman stop");
      assertThat(podman(60, "logs", second).output()).contains("stopped cleanly").doesNotContain("LEAK");
    } finally {
      ws.shutdown();
    }
  }

  @Test
  void testcontainers_startsTheImage_throughPodmansDockerApi() throws Exception {
    // Testcontainers reads DOCKER_HOST (set by the surefire config to this socket).
    var socket = WORK.resolve("podman.sock");
    Files.deleteIfExists(socket);
    var builder = new ProcessBuilder("podman", "system", "service", "--time=0", "unix://" + socket)
        .redirectErrorStream(true).redirectOutput(WORK.resolve("podman-service.log").toFile());
    builder.environment().putAll(env);
    apiService = builder.start();
    for (int i = 0; i < 100 && !Files.exists(socket); i++) {
      Thread.sleep(100);
    }
    assertThat(System.getenv("DOCKER_HOST")).isEqualTo("unix://" + socket);
    try (var container = new GenericContainer<>(DockerImageName.parse(IMAGE))
        .withEnv("AUTH_TOKEN", TOKEN)
        .withLabel("dev.buckcache.test", "container-image")
        .withExposedPorts(8080)
        // Publish 8080 only (gRPC shares it), on 127.0.0.1 only; Testcontainers is told to dial
        // it (TESTCONTAINERS_HOST_OVERRIDE).
        .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withPortBindings(
            new PortBinding(Ports.Binding.bindIp("127.0.0.1"), ExposedPort.tcp(8080))))
        .waitingFor(Wait.forHttp("/healthz").forPort(8080).withStartupTimeout(Duration.ofMinutes(2)))) {
      container.start();
      assertThat(container.getHost()).isEqualTo("127.0.0.1");
      var bindings = container.getContainerInfo().getNetworkSettings().getPorts().getBindings();
      // The image exposes 9092 too, but only 8080 is published (gRPC goes through it).
      assertThat(bindings.get(ExposedPort.tcp(9092))).isNull();
      assertThat(bindings.get(ExposedPort.tcp(8080))).isNotEmpty();
      assertThat(bindings.values()).filteredOn(java.util.Objects::nonNull).isNotEmpty()
          .allSatisfy(published -> assertThat(published).extracting(Ports.Binding::getHostIp)
              .containsOnly("127.0.0.1"));
      // Buck2's first calls: its permission probe over gRPC on 8080, with a write token.
      var channel = Buck2Access.channel(container.getMappedPort(8080), TOKEN);
      try {
        Buck2Access.probe(channel);
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      var status = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
          "http://" + container.getHost() + ":" + container.getMappedPort(8080) + "/status"))
          .header("Authorization", "Bearer " + TOKEN).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(status.statusCode()).isEqualTo(200);
      assertThat(status.body()).containsPattern("\"NumFiles\":[1-9]");
      assertThat(peers.stop()).as("the witnesses saw the mapped HTTP port")
          .contains("127.0.0.1:" + container.getMappedPort(8080) + " (jfr)");
    }
  }

  /** podman run ARGS with --name NAME after "run"; names, since podman -d prints log noise too. */
  private static String[] withName(List<String> run, String name) {
    var args = new ArrayList<>(run);
    args.addAll(1, List.of("--name", name));
    return args.toArray(String[]::new);
  }

  private static String curl(String... args) throws Exception {
    var command = new ArrayList<>(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"));
    if (List.of(args).contains("-o")) {
      command.subList(2, 4).clear();
    }
    command.addAll(List.of(args));
    return Clients.run(WORK, Map.of(), 60, command).output().trim();
  }

  private static void awaitHealthy(String base) throws Exception {
    var client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    for (int i = 0; i < 240; i++) {
      try {
        if (client.send(HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
            HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (java.io.IOException e) {
        // not up yet
      }
      Thread.sleep(250);
    }
    fail("container did not answer " + base + "/healthz within 60 s");
  }
}
