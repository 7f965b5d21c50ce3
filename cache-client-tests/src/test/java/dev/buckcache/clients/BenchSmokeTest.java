package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs scripts/bench in its smoke form (seconds per part) so the benchmark suite keeps working:
 * every section of the report is written and the plot is a PNG. No timing checks. The gRPC and
 * Bazel parts run as their own tests (GrpcBenchTest, BazelBenchTest) in the same suite.
 */
class BenchSmokeTest {
  @TempDir Path out;

  @Test
  void benchSmoke_writesEveryReportSectionAndThePlot() throws Exception {
    for (var program : new String[] {"wrk", "python3", "gnuplot", "npm", "node"}) {
      Clients.require(program);
    }
    if (!Files.isExecutable(Path.of("/usr/sbin/nginx"))) {
      Clients.require("nginx");
    }
    var root = Path.of("..").toAbsolutePath().normalize();
    var r = Clients.run(root, Map.of(), 900, "python3", "scripts/bench", "--smoke", "--skip-java",
        "--out", out.toString());
    System.out.println(r.output());
    assertThat(r.exitCode()).as(r.output()).isZero();
    var report = Files.readString(out.resolve("BENCHMARKS.md"));
    assertThat(report).contains("## HTTP, side by side", "GET 4 KiB (memory tier)",
        "GET 4 KiB (disk tier)", "PUT 4 KiB", "PUT 8 MiB", "turborepo-remote-cache",
        "## GET throughput by blob size", "## Memory", "peak RSS", "## The store alone",
        "reopen", "findMissing", "evict", "## Port open after a restart", "| 1,000 | ");
    var png = Files.readAllBytes(out.resolve("bench-throughput.png"));
    assertThat(png.length).isGreaterThan(5000);
    assertThat(new String(png, 1, 3, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("PNG");
  }
  @Test
  void flamegraphSmoke_writesOneGraphPerWorkload() throws Exception {
    Clients.require("python3");
    Clients.require("jcmd");
    var root = Path.of("..").toAbsolutePath().normalize();
    var r = Clients.run(root, Map.of(), 600, "python3", "scripts/flamegraph", "--smoke",
        "--label", "smoke", "--out", out.toString(), "put-64m", "get-64m");
    System.out.println(r.output());
    assertThat(r.exitCode()).as(r.output()).isZero();
    // The server's own named threads were sampled (buckcache-http-* loops in both; a GET of a
    // blob in a file is sendfile there, so the storage threads may not show at all). The page
    // stores frame names sorted and prefix-compressed, so only the first such name is whole.
    for (var workload : new String[] {"put-64m", "get-64m"}) {
      var html = Files.readString(out.resolve(workload + "-smoke.html"));
      assertThat(html).as(workload).contains("<html").contains("buckcache-");
    }
  }

  @Test
  void benchSharedS3Smoke_writesTheTwoNodeReport() throws Exception {
    Clients.require("python3");
    if (!Files.isExecutable(Path.of("/usr/sbin/nginx"))) {
      Clients.require("nginx");
    }
    var root = Path.of("..").toAbsolutePath().normalize();
    var r = Clients.run(root, Map.of("S3PROXY_JAR",
        dev.buckcache.process.S3ProxyServer.jar().toAbsolutePath().toString()), 600, "python3",
        "scripts/bench", "--shared-s3", "--smoke", "--out", out.toString());
    System.out.println(r.output());
    assertThat(r.exitCode()).as(r.output()).isZero();
    var report = Files.readString(out.resolve("SHARED-S3.md"));
    assertThat(report).contains("# Two nodes on one S3 bucket", "first read via B",
        "| 4 KiB |", "| 1 MiB |", "first reads via B");
  }
}
