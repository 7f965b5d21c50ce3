package dev.buckcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * {@code buckcache s3 lifecycle}: the printed rule is the JSON the AWS CLI takes, and a missing
 * bucket or an unreachable endpoint is one clear line. (Applying it to a real bucket is in
 * cache-client-tests, against a real S3 server.)
 */
class S3CommandTest {
  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    var oldOut = System.out;
    var oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int code = Main.run(args);
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void lifecycle_printsTheRuleAsAwsCliJson() {
    var r = run("s3", "lifecycle", "--s3-bucket", "build-cache", "--s3-prefix", "team-a",
        "--s3-retention", "14");
    assertThat(r.code()).isZero();
    var rule = JsonParser.parseString(r.out()).getAsJsonObject().getAsJsonArray("Rules").get(0)
        .getAsJsonObject();
    assertThat(rule.get("ID").getAsString()).isEqualTo("buckcache-retention");
    assertThat(rule.getAsJsonObject("Filter").get("Prefix").getAsString()).isEqualTo("team-a/");
    assertThat(rule.get("Status").getAsString()).isEqualTo("Enabled");
    assertThat(rule.getAsJsonObject("Expiration").get("Days").getAsInt()).isEqualTo(14);
    assertThat(rule.getAsJsonObject("AbortIncompleteMultipartUpload")
        .get("DaysAfterInitiation").getAsInt()).isEqualTo(1);
  }

  @Test
  void lifecycle_withTheImagesServeSettings_needsOnlyTheS3Ones(@org.junit.jupiter.api.io.TempDir
      java.nio.file.Path dir) throws Exception {
    // The image serves on 0.0.0.0 and requires auth to start; the command serves nothing.
    var config = dir.resolve("buckcache.yaml");
    java.nio.file.Files.writeString(config, """
        http:
          address: 0.0.0.0:8080
        grpc:
          address: 0.0.0.0:9092
        s3:
          bucket: build-cache
        """);
    var r = run("s3", "lifecycle", "--config", config.toString());
    assertThat(r.err()).doesNotContain("authentication");
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("\"Days\": 30");
  }

  @Test
  void lifecycle_noBucket_orRetentionZero_isAConfigError() {
    var none = run("s3", "lifecycle");
    assertThat(none.code()).isEqualTo(Main.EXIT_CONFIG);
    assertThat(none.err()).contains("no bucket: give --s3-bucket");
    var forever = run("s3", "lifecycle", "--s3-bucket", "b-1", "--s3-retention", "0");
    assertThat(forever.code()).isEqualTo(Main.EXIT_CONFIG);
    assertThat(forever.err()).contains("keep forever");
  }

  @Test
  void lifecycleApply_unreachableEndpoint_oneLineNamingTheStore() throws Exception {
    int port;
    try (var s = new ServerSocket(0)) {
      port = s.getLocalPort(); // closed again: nothing listens there
    }
    System.setProperty("aws.accessKeyId", "AKIDTEST");
    System.setProperty("aws.secretAccessKey", "SECRET-NOT-TO-BE-SHOWN");
    try {
      var r = run("s3", "lifecycle", "--s3-bucket", "b-1", "--s3-endpoint",
          "http://127.0.0.1:" + port, "--s3-path-style", "--apply");
      assertThat(r.code()).isEqualTo(Main.EXIT_FAILURE);
      assertThat(r.err().strip()).startsWith("buckcache: shared store s3://b-1/ at "
          + "http://127.0.0.1:" + port + ": lifecycle failed: unreachable: Connect to")
          .doesNotContain("\n").doesNotContain("SECRET-NOT-TO-BE-SHOWN");
    } finally {
      System.clearProperty("aws.accessKeyId");
      System.clearProperty("aws.secretAccessKey");
    }
  }

  @Test
  void lifecycleApply_noCredentials_saysWhereTheyComeFrom() {
    // No instance-metadata lookup: every test's traffic stays on loopback.
    System.setProperty("aws.disableEc2Metadata", "true");
    System.setProperty("aws.sharedCredentialsFile", "/nonexistent/credentials");
    System.setProperty("aws.configFile", "/nonexistent/config");
    try {
      var r = run("s3", "lifecycle", "--s3-bucket", "b-1", "--s3-endpoint",
          "http://127.0.0.1:1", "--s3-path-style", "--apply");
      assertThat(r.code()).isEqualTo(Main.EXIT_FAILURE);
      assertThat(r.err()).contains("no credentials found: set AWS_ACCESS_KEY_ID");
    } finally {
      System.clearProperty("aws.disableEc2Metadata");
      System.clearProperty("aws.sharedCredentialsFile");
      System.clearProperty("aws.configFile");
    }
  }
}
