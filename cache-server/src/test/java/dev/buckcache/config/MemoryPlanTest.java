package dev.buckcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The split of server.memory_limit, and scripts/memory-flags, which must compute the same. */
class MemoryPlanTest {
  private static final long MIB = 1L << 20;
  private static final Path SCRIPT = Path.of("..", "scripts", "memory-flags");

  @Test
  void of_oneGib_aQuarterHeap_directForNettyAndTheTier_restLessTheJvmForRocksDb() {
    var plan = MemoryPlan.of(1L << 30);
    assertThat(plan.heap()).isEqualTo(256 * MIB);
    assertThat(plan.netty()).isEqualTo(128 * MIB);
    assertThat(plan.direct()).isEqualTo(512 * MIB);
    assertThat(plan.memoryTierRoom()).isEqualTo(384 * MIB);
    assertThat(plan.rocksdb()).isEqualTo(160 * MIB);
    assertThat(plan.heap() + plan.direct() + plan.rocksdb() + MemoryPlan.JVM_NATIVE)
        .isEqualTo(1L << 30);
    assertThat(plan.rocksdbWith(200 * MIB)).as("what the tier leaves goes to RocksDB")
        .isEqualTo(344 * MIB);
    assertThat(plan.rocksdbWith(384 * MIB)).isEqualTo(160 * MIB);
    assertThat(plan.jvmOptions()).isEqualTo("-Xmx256m -XX:MaxDirectMemorySize=512m");
    var big = MemoryPlan.of(16L << 30);
    assertThat(big.netty()).as("Netty's share stops at 512 MiB").isEqualTo(512 * MIB);
    assertThat(big.memoryTierRoom()).isEqualTo(6144 * MIB);
    assertThatThrownBy(() -> MemoryPlan.of(511 * MIB)).hasMessageContaining("at least 512MiB");
  }

  /** Sizes as users write them, through Sizes.parse and MemoryPlan, and through the script. */
  @ParameterizedTest
  @ValueSource(strings = {"512MiB", "1GiB", "1GB", "2GB", "1.5GiB", "768 MiB", "3TB", "1gib",
      "4294967296", "600000000B", "999999999"})
  void script_printsWhatThePlanSays(String size) throws Exception {
    var run = run(List.of(size), Map.of());
    assertThat(run.exit).as(run.err).isZero();
    assertThat(run.out.trim()).isEqualTo(MemoryPlan.of(Sizes.parse(size)).jvmOptions());
  }

  @ParameterizedTest
  @ValueSource(strings = {"500MiB", "100MB", "abc", "1XB", "-1GB", ""})
  void script_refusesWhatThePlanRefuses_exit2(String size) throws Exception {
    var run = run(List.of(size), Map.of());
    assertThat(run.exit).isEqualTo(2);
    assertThat(run.out).isEmpty();
    assertThat(run.err).startsWith("buckcache: memory limit");
    assertThatThrownBy(() -> MemoryPlan.of(Sizes.parse(size)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** What ./buckcache and the image's entry point ask: the limit their own arguments set. */
  @Test
  void scriptFor_readsTheFlagEitherWay_elseTheEnvironment_elseNothing() throws Exception {
    var expected = MemoryPlan.of(2L << 30).jvmOptions();
    assertThat(run(List.of("--for", "serve", "--memory-limit", "2GiB"), Map.of()).out.trim())
        .isEqualTo(expected);
    assertThat(run(List.of("--for", "serve", "--memory-limit=2GiB", "--dir", "d"), Map.of()).out.trim())
        .isEqualTo(expected);
    assertThat(run(List.of("--for", "serve"), Map.of("BUCKCACHE_MEMORY_LIMIT", "2GiB")).out.trim())
        .isEqualTo(expected);
    assertThat(run(List.of("--for", "serve", "--memory-limit", "2GiB"),
        Map.of("BUCKCACHE_MEMORY_LIMIT", "1GiB")).out.trim()).as("the flag wins").isEqualTo(expected);
    var none = run(List.of("--for", "serve", "--max-size", "2GB"), Map.of());
    assertThat(none.exit).isZero();
    assertThat(none.out).isEmpty();
    assertThat(run(List.of("--for", "serve", "--memory-limit", "off"), Map.of()).out).isEmpty();
    assertThat(run(List.of("--for", "serve", "--memory-limit", "1MB"), Map.of()).exit).isEqualTo(2);
  }

  private record Run(int exit, String out, String err) {}

  private static Run run(List<String> args, Map<String, String> env) throws IOException,
      InterruptedException {
    var command = new ArrayList<>(List.of("sh", SCRIPT.toString()));
    command.addAll(args);
    var builder = new ProcessBuilder(command);
    builder.environment().remove("BUCKCACHE_MEMORY_LIMIT");
    builder.environment().putAll(env);
    var process = builder.start();
    var out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    var err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Run(process.waitFor(), out, err);
  }
}
