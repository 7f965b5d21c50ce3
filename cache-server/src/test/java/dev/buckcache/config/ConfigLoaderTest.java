package dev.buckcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {
  @TempDir Path dir;
  private final ConfigLoader loader = new ConfigLoader(Map.of(), 8L << 30);

  @Test
  void load_nothingGiven_designDefaults() {
    var c = loader.load(null, Map.of());
    assertThat(c.storage().dir()).isEqualTo(Path.of("./buckcache-data"));
    assertThat(c.storage().maxSize()).isEqualTo(10_000_000_000L);
    assertThat(c.storage().cleanupThreshold()).isEqualTo(0.8);
    assertThat(c.storage().memorySize()).isEqualTo(512_000_000L);
    assertThat(c.storage().compression()).isEqualTo(Compression.ZSTD);
    assertThat(c.shutdownGrace()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.storage().maxInflightBytes()).as("a quarter of the heap").isEqualTo(2L << 30);
  }

  @Test
  void load_maxInflightBytes_sizeOrAuto() {
    assertThat(loader.load(null, Map.of("storage.max_inflight_bytes", "64MiB")).storage()
        .maxInflightBytes()).isEqualTo(64L << 20);
    assertThat(loader.load(null, Map.of("storage.max_inflight_bytes", "AUTO")).storage()
        .maxInflightBytes()).isEqualTo(2L << 30);
  }

  @Test
  void load_smallDirectMemory_defaultMemoryTierShrinks_anExplicitOneIsChecked() {
    // e.g. a container with a 700 MB limit: the JVM's direct memory defaults to its heap
    var small = new ConfigLoader(Map.of(), 512L << 20);
    assertThat(small.load(null, Map.of()).storage().memorySize()).isEqualTo(128L << 20);
    assertThat(small.load(null, Map.of("storage.memory_size", "200MiB")).storage().memorySize())
        .isEqualTo(200L << 20);
    assertThatThrownBy(() -> small.load(null, Map.of("storage.memory_size", "512MB")))
        .hasMessageContaining("more than the memory tier's room in direct memory (268.4MB")
        .hasMessageContaining("raise -XX:MaxDirectMemorySize");
    // The tier is off heap: a small heap with room in direct memory holds a big tier.
    var offHeap = new ConfigLoader(Map.of(), 256L << 20, 2L << 30);
    assertThat(offHeap.load(null, Map.of()).storage().memorySize()).isEqualTo(512_000_000L);
    assertThat(offHeap.load(null, Map.of()).storage().maxInflightBytes()).isEqualTo(64L << 20);
  }

  /** The plan sizes what the heap and direct memory hold, even in a JVM started with more. */
  @Test
  void load_memoryLimit_tierFromThePlansRoom_inflightFromItsHeap_anExplicitTierIsChecked() {
    var c = loader.load(null, Map.of("server.memory_limit", "1GiB")).storage();
    assertThat(c.memory()).isEqualTo(MemoryPlan.of(1L << 30));
    assertThat(c.memorySize()).isEqualTo(384L << 20); // the tier's room: 3/8 of the limit
    assertThat(c.maxInflightBytes()).isEqualTo(64L << 20); // a quarter of the 256 MiB heap
    assertThat(loader.load(null, Map.of("server.memory_limit", "1GiB", "storage.memory_size",
        "100MiB")).storage().memorySize()).isEqualTo(100L << 20);
    assertThatThrownBy(() -> loader.load(null, Map.of("server.memory_limit", "1GiB",
        "storage.memory_size", "400MiB")))
        .hasMessageContaining("more than the memory tier's room in direct memory (402.7MB)")
        .hasMessageContaining("raise server.memory_limit");
    assertThat(loader.load(null, Map.of("server.memory_limit", "1400MiB")).storage().memorySize())
        .as("the default tier from 1.3GiB on").isEqualTo(512_000_000L);
    assertThat(loader.load(null, Map.of()).storage().memory()).isNull();
    assertThat(loader.load(null, Map.of("server.memory_limit", "OFF")).storage().memory()).isNull();
    var env = new ConfigLoader(Map.of("BUCKCACHE_MEMORY_LIMIT", "4GiB"), 512L << 20);
    // A JVM smaller than the plan bounds what it holds: its 512 MiB of direct memory, less
    // Netty's 512 MiB share of the plan, leaves the tier no room.
    assertThat(env.load(null, Map.of("storage.memory_size", "0")).storage().memorySize()).isZero();
    assertThatThrownBy(() -> env.load(null, Map.of("storage.memory_size", "1MiB")))
        .hasMessageContaining("room in direct memory (0B)");
    assertThatThrownBy(() -> loader.load(null, Map.of("server.memory_limit", "300MB")))
        .hasMessageContaining("invalid server.memory_limit '300MB' (from flag --memory-limit)")
        .hasMessageContaining("at least 512MiB");
  }

  @Test
  void load_fileThenEnvThenFlags_laterWins() throws Exception {
    var file = dir.resolve("buckcache.yaml");
    Files.writeString(file, """
        storage:
          max_size: 2GB
          memory_size: 64MB
          compression: none
        """);
    var env = Map.of("BUCKCACHE_MAX_SIZE", "3GB", "BUCKCACHE_MEMORY_SIZE", "32MB");
    var c = new ConfigLoader(env, 8L << 30).load(file, Map.of("storage.max_size", "4GiB"));
    assertThat(c.storage().maxSize()).isEqualTo(4L << 30);
    assertThat(c.storage().memorySize()).isEqualTo(32_000_000L);
    assertThat(c.storage().compression()).isEqualTo(Compression.NONE);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "storage.max_size|10XB|invalid storage.max_size '10XB' (from flag --max-size): not a size",
      "storage.max_size|1MB|must be at least 32MiB",
      "storage.cleanup_threshold|1.5|invalid storage.cleanup_threshold '1.5'",
      "storage.cleanup_threshold|abc|not a number",
      "storage.cleanup_threshold|0.3|must be above 0.5 and below 1",
      "storage.cleanup_threshold|0.5|must be above 0.5 and below 1",
      "storage.compression|lz4|not one of zstd, none",
      "storage.zstd_level|30|must be 1 to 19",
      "storage.memory_size|6GB|more than the memory tier's room in direct memory",
      "storage.max_inflight_bytes|6GB|more than half the JVM heap",
      "storage.max_inflight_bytes|100KB|must be at least 1MiB",
      "server.shutdown_grace|soon|not a duration"})
  void load_badFlag_oneLineNamingTheKey(String key, String value, String message) {
    assertThatThrownBy(() -> loader.load(null, Map.of(key, value)))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(message)
        .hasMessageContaining(key)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
  }

  /** Every true|false setting, by YAML key. */
  static java.util.stream.Stream<String> booleanKeys() {
    return ConfigLoader.ALL.stream().filter(ConfigLoader.Setting::isSwitch).map(ConfigLoader.Setting::key);
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("booleanKeys")
  void load_emptyYamlBoolean_rejectedNamingTheKey(String key) throws Exception {
    var file = dir.resolve("c.yaml");
    var dot = key.indexOf('.');
    Files.writeString(file, key.substring(0, dot) + ":\n  " + key.substring(dot + 1) + ":\n");
    assertThatThrownBy(() -> loader.load(file, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("invalid " + key + " ''")
        .hasMessageContaining("must be true or false")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
  }

  @ParameterizedTest
  @CsvSource({"server.access_log,1", "server.access_log,on", "metrics.public,maybe",
      "auth.allow_anonymous_reads,yes please", "server.insecure_no_auth,' '"})
  void load_otherBooleanText_rejectedNamingTheKey(String key, String value) {
    assertThatThrownBy(() -> loader.load(null, Map.of(key, value)))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("invalid " + key)
        .hasMessageContaining("must be true or false");
  }

  @Test
  void load_yamlBooleans_trueFalseAndYamlsYesNo() throws Exception {
    var file = dir.resolve("c.yaml");
    Files.writeString(file, """
        server:
          access_log: true
        metrics:
          public: "FALSE"
        auth:
          allow_anonymous_reads: yes
          strict_read_scope: no
        """);
    var c = loader.load(file, Map.of());
    assertThat(c.accessLog()).isTrue();
    assertThat(c.metricsPublic()).isFalse();
    assertThat(c.auth().allowAnonymousReads()).isTrue();
    assertThat(c.auth().strictReadScope()).isFalse();
  }

  @Test
  void load_badEnv_namesTheVariable() {
    var env = Map.of("BUCKCACHE_ZSTD_LEVEL", "0");
    assertThatThrownBy(() -> new ConfigLoader(env, 8L << 30).load(null, Map.of()))
        .hasMessageContaining("from env BUCKCACHE_ZSTD_LEVEL");
  }

  @Test
  void load_unknownYamlKey_rejected() throws Exception {
    var file = dir.resolve("c.yaml");
    Files.writeString(file, "storage:\n  max_sise: 1GB\n");
    assertThatThrownBy(() -> loader.load(file, Map.of()))
        .hasMessageContaining("unknown key 'storage.max_sise'");
  }

  @Test
  void load_brokenYaml_rejectedWithFileName() throws Exception {
    var file = dir.resolve("c.yaml");
    Files.writeString(file, "storage: [unclosed\n");
    assertThatThrownBy(() -> loader.load(file, Map.of()))
        .hasMessageContaining("c.yaml");
  }

  @ParameterizedTest
  @CsvSource({"10GB,10000000000", "512MB,512000000", "1GiB,1073741824", "64mib,67108864",
      "1234,1234", "1.5GB,1500000000", "0,0"})
  void sizes_parseDecimalAndBinary(String text, long bytes) {
    assertThat(Sizes.parse(text)).isEqualTo(bytes);
  }

  @Test
  void exampleConfigFile_loadsAndStatesTheDefaults() {
    var example = Path.of("..", "config", "buckcache.yaml");
    assertThat(loader.load(example, Map.of())).isEqualTo(loader.load(null, Map.of()));
  }

  @Test
  void digestInstances_fromYamlMapOrFlag() throws Exception {
    var file = dir.resolve("d.yaml");
    Files.writeString(file, "digest:\n  instances:\n    buck2: blake3\n    legacy: sha256\n");
    var c = loader.load(file, Map.of());
    assertThat(c.digests().forInstance("buck2")).isEqualTo(dev.buckcache.digest.DigestFunction.BLAKE3);
    assertThat(c.digests().forInstance("legacy")).isEqualTo(dev.buckcache.digest.DigestFunction.SHA256);
    assertThat(c.digests().forInstance("other")).isEqualTo(dev.buckcache.digest.DigestFunction.SHA256);
    var flag = loader.load(null, Map.of("digest.instances", "x=blake3", "digest.default", "blake3"));
    assertThat(flag.digests().forInstance("y")).isEqualTo(dev.buckcache.digest.DigestFunction.BLAKE3);
    assertThatThrownBy(() -> loader.load(null, Map.of("digest.instances", "x=sha1")))
        .hasMessageContaining("must be sha256 or blake3");
  }

  @Test
  void anonymous_defaultDeny_valuesFromFlagEnvAndYaml() throws Exception {
    assertThat(loader.load(null, Map.of()).auth().anonymous()).isEqualTo(AuthConfig.Anonymous.DENY);
    assertThat(loader.load(null, Map.of("auth.anonymous", "miss")).auth().anonymous())
        .isEqualTo(AuthConfig.Anonymous.MISS);
    assertThat(new ConfigLoader(Map.of("BUCKCACHE_ANONYMOUS", "READ"), 8L << 30).load(null, Map.of())
        .auth().anonymous()).isEqualTo(AuthConfig.Anonymous.READ);
    var file = dir.resolve("a.yaml");
    Files.writeString(file, "auth:\n  anonymous: miss\n");
    assertThat(loader.load(file, Map.of()).auth().anonymous()).isEqualTo(AuthConfig.Anonymous.MISS);
    assertThatThrownBy(() -> loader.load(null, Map.of("auth.anonymous", "maybe")))
        .hasMessage("invalid auth.anonymous 'maybe' (from flag --anonymous): not one of deny, read, miss");
  }

  @Test
  void allowAnonymousReads_isAnAliasOfRead_andConflictsWithMiss() {
    var alias = loader.load(null, Map.of("auth.allow_anonymous_reads", "true"));
    assertThat(alias.auth().anonymous()).isEqualTo(AuthConfig.Anonymous.READ);
    assertThat(alias.auth().allowAnonymousReads()).isTrue();
    assertThat(new ConfigLoader(Map.of("BUCKCACHE_ALLOW_ANONYMOUS_READS", "true"), 8L << 30)
        .load(null, Map.of("auth.anonymous", "deny")).auth().anonymous()).isEqualTo(AuthConfig.Anonymous.READ);
    assertThat(loader.load(null, Map.of("auth.allow_anonymous_reads", "true", "auth.anonymous", "read"))
        .auth().anonymous()).isEqualTo(AuthConfig.Anonymous.READ);
    assertThatThrownBy(() -> loader.load(null,
        Map.of("auth.allow_anonymous_reads", "true", "auth.anonymous", "miss")))
        .hasMessageContaining("invalid auth.allow_anonymous_reads 'true'")
        .hasMessageContaining("auth.anonymous is miss");
  }

  @Test
  void load_s3_offByDefault_fromFlagsEnvAndYaml() throws Exception {
    assertThat(loader.load(null, Map.of()).s3()).isNull();
    var file = dir.resolve("s3.yaml");
    Files.writeString(file, """
        s3:
          bucket: build-cache
          prefix: team-a
          path_style: true
          retention_days: 14
        """);
    var env = new ConfigLoader(Map.of("BUCKCACHE_S3_ENDPOINT", "http://127.0.0.1:9000",
        "BUCKCACHE_S3_MAX_CONNECTIONS", "16"), 8L << 30);
    var s3 = env.load(file, Map.of("s3.region", "eu-west-1")).s3();
    assertThat(s3.bucket()).isEqualTo("build-cache");
    assertThat(s3.endpoint()).hasToString("http://127.0.0.1:9000");
    assertThat(s3.region()).isEqualTo("eu-west-1");
    assertThat(s3.prefix()).as("a prefix is a folder").isEqualTo("team-a/");
    assertThat(s3.pathStyle()).isTrue();
    assertThat(s3.maxConnections()).isEqualTo(16);
    assertThat(s3.retentionDays()).isEqualTo(14);
    var defaults = loader.load(null, Map.of("s3.bucket", "b-1")).s3();
    assertThat(defaults.endpoint()).isNull();
    assertThat(defaults.region()).isEqualTo("us-east-1");
    assertThat(defaults.prefix()).isEmpty();
    assertThat(defaults.pathStyle()).isFalse();
    assertThat(defaults.retentionDays()).isEqualTo(30);
    assertThat(defaults.durability()).isEqualTo(dev.buckcache.storage.shared.S3Settings.Durability.SHARED);
    assertThat(loader.load(null, Map.of("s3.bucket", "b-1", "s3.durability", "ASYNC",
        "s3.async_queue_max", "50")).s3()).satisfies(s -> {
          assertThat(s.durability()).isEqualTo(dev.buckcache.storage.shared.S3Settings.Durability.ASYNC);
          assertThat(s.queueMaxItems()).isEqualTo(50);
        });
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "s3.endpoint|http://127.0.0.1:9000|needs s3.bucket",
      "s3.bucket|Not_A_Bucket|is not an S3 bucket name",
      "s3.max_connections|0|must be 1 to 1024",
      "s3.retention_days|-1|must be 0 (keep forever) or a number of days",
      "s3.durability|eventually|not one of shared, async",
      "s3.async_queue_max|0|must be at least 1"})
  void load_badS3Setting_oneLineNamingTheKey(String key, String value, String message) {
    assertThatThrownBy(() -> loader.load(null, Map.of(key, value)))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(message)
        .hasMessageContaining(key);
  }

  @Test
  void load_s3EndpointWithCredentials_refused_andTheSecretIsNotEchoed() {
    assertThatThrownBy(() -> loader.load(null, Map.of("s3.bucket", "b-1",
        "s3.endpoint", "http://AKID:SECRETKEY@127.0.0.1:9000")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("must not carry credentials")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("SECRETKEY"));
  }
}
