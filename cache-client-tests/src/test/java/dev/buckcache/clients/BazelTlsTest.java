package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bazel 4.2.3 over https:// to a TLS server (certificates from openssl). Debian's Bazel 4.2.3
 * cannot be tested over grpcs://: its bundled grpc-java crashes with "JDK provider does not
 * support ALPN protocol" before connecting, and its HTTP cache ignores --tls_certificate, so the
 * CA goes into the Bazel server JVM's truststore. buckcache's grpcs side is tested with grpc-java
 * clients (TlsTest).
 */
class BazelTlsTest {
  @TempDir Path dir;

  private void openssl(String... args) throws Exception {
    var command = new java.util.ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    var r = Clients.run(dir, Map.of(), 60, command);
    assertThat(r.exitCode()).as(r.output()).isZero();
  }

  @Test
  void tlsCacheOverHttps_cleanRebuildIsAllHits() throws Exception {
    Clients.require("bazel");
    Clients.require("openssl");
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=buckcache test CA");
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
    Files.writeString(dir.resolve("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf");
    try (var server = ServerProcess.serve(dir.resolve("data"), "--tls-cert",
        dir.resolve("server.pem").toString(), "--tls-key", dir.resolve("server.key").toString())) {
      var https = server.http().replace("http://127.0.0.1", "https://localhost");
      var trustStore = dir.resolve("trust.p12");
      var keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
      var r = Clients.run(dir, Map.of(), 60, keytool, "-importcert", "-noprompt", "-alias", "ca",
          "-file", dir.resolve("ca.pem").toString(), "-keystore", trustStore.toString(),
          "-storetype", "PKCS12", "-storepass", "changeit");
      assertThat(r.exitCode()).as(r.output()).isZero();
      for (var cache : List.of(https)) {
        var ws = new BazelWorkspace(dir.resolve("bazel-" + cache.hashCode()));
        ws.startupOption("--host_jvm_args=-Djavax.net.ssl.trustStore=" + trustStore);
        ws.startupOption("--host_jvm_args=-Djavax.net.ssl.trustStorePassword=changeit");
        var flags = List.of("--remote_cache=" + cache, "--tls_certificate=" + dir.resolve("ca.pem"));
        try {
          var run = ws.cleanRebuild(flags);
          System.out.println("bazel tls " + cache.replaceAll(":\\d+", "") + ": " + run.summary());
          assertThat(BazelWorkspace.remoteHits(run.second())).as(run.summary()).isEqualTo(run.actions());
        } finally {
          ws.shutdown();
        }
      }
      server.stopAndCheck();
    }
  }
}
