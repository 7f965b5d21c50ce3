package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Runs scripts/bench-http in its 1-second form so the benchmark keeps working; no timing checks. */
class BenchHttpSmokeTest {
  @Test
  void benchHttp_smoke_printsTheComparison() throws Exception {
    Clients.require("wrk");
    Clients.require("python3");
    if (!new java.io.File("/usr/sbin/nginx").canExecute()) {
      Clients.require("nginx");
    }
    var root = Path.of("..").toAbsolutePath().normalize();
    var r = Clients.run(root, Map.of(), 300, "python3", "scripts/bench-http", "--smoke");
    System.out.println(r.output());
    assertThat(r.exitCode()).as(r.output()).isZero();
    assertThat(r.output()).contains("4KiB").contains("1MiB").contains("ratio");
  }
}
