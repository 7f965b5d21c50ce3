package dev.buckcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class BuckconfigCommandTest {
  private static String[] run(String... args) {
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

  @Test
  void buckconfig_allThreeAddresses_tlsOff_headerFromEnv_platform() {
    var r = run("buckconfig", "--address", "grpc://cache.internal:9092", "--instance", "main",
        "--token-env", "BUCKCACHE_TOKEN");
    assertThat(r[0]).isEqualTo("0");
    assertThat(r[1]).contains("[buck2_re_client]")
        .contains("engine_address = grpc://cache.internal:9092")
        .contains("cas_address = grpc://cache.internal:9092")
        .contains("action_cache_address = grpc://cache.internal:9092")
        .contains("tls = false").contains("instance_name = main")
        .contains("http_headers = Authorization: Bearer $BUCKCACHE_TOKEN")
        .contains("digest_algorithms = SHA256").contains("remote_cache_enabled = True")
        .doesNotContain("http_cache_url");
  }

  @Test
  void buckconfig_wrongScheme_oneClearLine() {
    var r = run("buckconfig", "--address", "grpcs://cache:9092");
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[2]).contains("must be grpc://HOST:PORT");
  }
}
