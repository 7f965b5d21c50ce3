package dev.buckcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class BuckconfigCommandTest {
  /**
   * Keys Buck2's configuration code reads, per section (facts from Buck2's source, main of
   * Aug 2026): {@code Buck2OssReConfiguration::from_legacy_config} in
   * {@code app/buck2_re_configuration/src/lib.rs} for {@code [buck2_re_client]}; for
   * {@code [buck2]}, {@code app/buck2_common/src/init.rs} (digests) and
   * {@code app/buck2_server/src/ctx.rs} (uploads).
   */
  private static final Map<String, Set<String>> BUCK2_KEYS = Map.of(
      "buck2_re_client", Set.of("address", "cas_address", "engine_address",
          "action_cache_address", "tls", "tls_ca_certs", "tls_client_cert", "http_headers",
          "capabilities", "instance_name", "use_fbcode_metadata", "max_decoding_message_size",
          "max_total_batch_size", "max_concurrent_uploads_per_action",
          "find_missing_blobs_batch_size", "cas_ttl_secs", "grpc_keepalive_time_secs",
          "grpc_keepalive_timeout_secs", "grpc_keepalive_while_idle",
          "execution_concurrency_limit", "min_connections", "max_connections",
          "max_concurrency_per_connection"),
      "buck2", Set.of("digest_algorithms", "source_digest_algorithm",
          "default_allow_cache_upload", "use_network_action_output_cache"));

  /** Runs the CLI in this JVM: exit code, stdout, stderr. */
  static String[] run(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    var oldOut = System.out;
    var oldErr = System.err;
    System.setOut(new PrintStream(out, true));
    System.setErr(new PrintStream(err, true));
    try {
      int code = Main.run(args);
      return new String[] {Integer.toString(code), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  /** Parses buckconfig INI: sections, {@code key = value}, {@code #}/{@code ;} comment lines. */
  private static Map<String, Map<String, String>> parseIni(String text) {
    var sections = new LinkedHashMap<String, Map<String, String>>();
    Map<String, String> current = null;
    for (var raw : text.split("\n", -1)) {
      var line = raw.strip();
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
        continue;
      }
      if (line.startsWith("[")) {
        assertThat(line).as("section header").matches("\\[[a-z0-9_]+\\]");
        current = sections.computeIfAbsent(line.substring(1, line.length() - 1),
            k -> new LinkedHashMap<>());
        continue;
      }
      assertThat(current).as("key outside a section: " + line).isNotNull();
      int eq = line.indexOf('=');
      assertThat(eq).as("not key = value: " + line).isPositive();
      var key = line.substring(0, eq).strip();
      assertThat(current).as("duplicate key " + key).doesNotContainKey(key);
      current.put(key, line.substring(eq + 1).strip());
    }
    return sections;
  }

  /** Runs the command, parses its output and checks every key is one Buck2 reads. */
  private static Map<String, Map<String, String>> buckconfig(String... args) {
    var all = new String[args.length + 1];
    all[0] = "buckconfig";
    System.arraycopy(args, 0, all, 1, args.length);
    var r = run(all);
    assertThat(r[0]).as(r[2]).isEqualTo("0");
    var ini = parseIni(r[1]);
    assertThat(ini.keySet()).containsExactly("buck2_re_client", "buck2");
    ini.forEach((section, keys) -> assertThat(BUCK2_KEYS.get(section))
        .as("keys Buck2 reads in [" + section + "]").containsAll(keys.keySet()));
    ini.values().forEach(keys -> keys.values().forEach(v -> assertThat(v).doesNotContain("#")));
    assertThat(ini.get("buck2")).containsEntry("default_allow_cache_upload", "true");
    return ini;
  }

  private static String output(String... args) {
    var all = new String[args.length + 1];
    all[0] = "buckconfig";
    System.arraycopy(args, 0, all, 1, args.length);
    return run(all)[1];
  }

  @Test
  void buckconfig_noArguments_loopbackDefaultPlaintextUploadsOn() {
    var ini = buckconfig();
    // The HTTP port serves gRPC too: the one port is the default.
    assertThat(ini.get("buck2_re_client")).containsEntry("engine_address", "grpc://127.0.0.1:8080")
        .containsEntry("cas_address", "grpc://127.0.0.1:8080")
        .containsEntry("action_cache_address", "grpc://127.0.0.1:8080")
        .containsEntry("tls", "false").doesNotContainKeys("http_headers", "instance_name");
    assertThat(ini.get("buck2")).containsEntry("digest_algorithms", "SHA256");
    assertThat(output()).contains("allow_cache_uploads = True").contains("remote_cache_enabled = True")
        .contains("execution_platforms = root//platforms:buckcache")
        .doesNotContain("http_cache_url");
  }

  @Test
  void buckconfig_instanceAndTokenEnv_addressesInstanceAndBearerHeader() {
    var ini = buckconfig("--address", "grpc://cache.internal:9092", "--instance", "main",
        "--token-env", "BUCKCACHE_TOKEN");
    assertThat(ini.get("buck2_re_client"))
        .containsEntry("engine_address", "grpc://cache.internal:9092")
        .containsEntry("cas_address", "grpc://cache.internal:9092")
        .containsEntry("action_cache_address", "grpc://cache.internal:9092")
        .containsEntry("instance_name", "main")
        .containsEntry("http_headers", "Authorization: Bearer $BUCKCACHE_TOKEN");
  }

  @Test
  void buckconfig_genruleCaveat_namesTheLabelsAttribute() {
    assertThat(output()).contains("prelude's genrule overrides").contains("labels = [\"large_copy\"]");
  }

  @Test
  void buckconfig_readOnly_platformDoesNotUpload() {
    buckconfig("--read-only");
    assertThat(output("--read-only")).contains("allow_cache_uploads = False")
        .doesNotContain("allow_cache_uploads = True");
  }

  @Test
  void buckconfig_tlsWithCaAndClientCert_onlyBuck2TlsKeys() {
    var ini = buckconfig("--address", "grpc://cache:9092", "--tls", "--ca", "/etc/buckcache/ca.pem",
        "--client-cert", "/home/me/client.pem");
    assertThat(ini.get("buck2_re_client")).containsEntry("tls", "true")
        .containsEntry("tls_ca_certs", "/etc/buckcache/ca.pem")
        .containsEntry("tls_client_cert", "/home/me/client.pem");
  }

  @Test
  void buckconfig_caWithoutTls_turnsTlsOn() {
    var ini = buckconfig("--ca", "ca.pem");
    assertThat(ini.get("buck2_re_client")).containsEntry("tls", "true")
        .containsEntry("tls_ca_certs", "ca.pem");
  }

  @Test
  void buckconfig_tlsWithoutCa_noCaKey() {
    var ini = buckconfig("--tls");
    assertThat(ini.get("buck2_re_client")).containsEntry("tls", "true")
        .doesNotContainKeys("tls_ca_certs", "tls_client_cert");
  }

  @Test
  void buckconfig_blake3_digestAndServerHint() {
    var ini = buckconfig("--digest", "blake3", "--instance", "main");
    assertThat(ini.get("buck2")).containsEntry("digest_algorithms", "BLAKE3");
    assertThat(output("--digest", "blake3", "--instance", "main"))
        .contains("--digest-instances main=blake3");
  }

  @Test
  void exampleFile_onlyKeysBuck2Reads_commentedOnesToo() throws Exception {
    var text = java.nio.file.Files.readString(java.nio.file.Path.of("..", "config", "buckconfig"));
    var ini = parseIni(text);
    assertThat(ini.keySet()).containsExactly("buck2_re_client", "buck2");
    ini.forEach((section, keys) -> assertThat(BUCK2_KEYS.get(section)).containsAll(keys.keySet()));
    assertThat(ini.get("buck2")).containsEntry("default_allow_cache_upload", "true");
    var commented = Pattern.compile("(?m)^# ([a-z_]+) = ").matcher(text);
    while (commented.find()) {
      assertThat(BUCK2_KEYS.get("buck2_re_client")).contains(commented.group(1));
    }
    assertThat(text).contains("labels = [\"large_copy\"]").contains("allow_cache_uploads = True");
  }

  @Test
  void buckconfig_wrongScheme_oneClearLine() {
    var r = run("buckconfig", "--address", "grpcs://cache:9092");
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[2]).contains("must be grpc://HOST:PORT");
  }

  @Test
  void buckconfig_tokenEnvWithDollar_oneClearLine() {
    var r = run("buckconfig", "--token-env", "$BUCKCACHE_TOKEN");
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[2]).contains("--token-env must be a variable name");
  }

  @Test
  void buckconfig_help_listsEveryOption() {
    var r = run("buckconfig", "--help");
    assertThat(r[1]).contains("--address").contains("--tls").contains("--ca")
        .contains("--client-cert").contains("--instance").contains("--token-env")
        .contains("--digest").contains("--read-only").contains("grpc://127.0.0.1:8080");
  }
}
