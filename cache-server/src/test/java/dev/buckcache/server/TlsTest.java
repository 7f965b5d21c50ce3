package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import dev.buckcache.auth.Keys;
import dev.buckcache.auth.TestCerts;
import dev.buckcache.config.ConfigLoader;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS and mTLS on both ports with certificates made here; the certificate reloads live. */
class TlsTest {
  @TempDir Path dir;
  private TestCerts certs;
  private Path caFile;
  private Path certFile;
  private Path keyFile;
  private BuckcacheServer server;

  @BeforeEach
  void certs() throws Exception {
    certs = new TestCerts();
    caFile = dir.resolve("ca.pem");
    TestCerts.write(caFile, certs.ca);
    var serverKeys = Keys.generateEs256();
    certFile = dir.resolve("server.pem");
    keyFile = dir.resolve("server-key.pem");
    TestCerts.write(certFile, certs.server(serverKeys, 100));
    TestCerts.write(keyFile, serverKeys);
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  private void start(Map<String, String> extra) {
    var flags = new HashMap<>(Map.of("storage.dir", dir.resolve("store").toString(),
        "storage.max_size", "128MB", "storage.memory_size", "8MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0",
        "tls.cert", certFile.toString(), "tls.key", keyFile.toString(),
        "tls.reload_interval", "1s"));
    flags.putAll(extra);
    server = BuckcacheServer.start(new ConfigLoader(Map.of(), 4L << 30).load(null, flags));
  }

  private SSLContext client(X509Certificate clientCert, java.security.KeyPair clientKeys) throws Exception {
    var trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", certs.ca);
    var tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    KeyManagerFactory kmf = null;
    if (clientCert != null) {
      var keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("me", clientKeys.getPrivate(), new char[0],
          new java.security.cert.Certificate[] {clientCert});
      kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, new char[0]);
    }
    var ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  private int httpGet(SSLContext ssl, String path) throws Exception {
    var client = HttpClient.newBuilder().sslContext(ssl).build();
    return client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
        + server.httpAddress().getPort() + path)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  @Test
  void httpsAndGrpcOverTls_tls12OrNewer_plaintextRefused() throws Exception {
    start(Map.of());
    assertThat(httpGet(client(null, null), "/healthz")).isEqualTo(200);
    assertThat(httpGet(client(null, null), "/cas/" + "a".repeat(64))).isEqualTo(404);
    try (var socket = (SSLSocket) client(null, null).getSocketFactory()
        .createSocket("127.0.0.1", server.httpAddress().getPort())) {
      socket.startHandshake();
      assertThat(socket.getSession().getProtocol()).isIn("TLSv1.3", "TLSv1.2");
    }
    var plain = HttpClient.newHttpClient();
    assertThatThrownBy(() -> plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + server.httpAddress().getPort() + "/healthz")).build(), HttpResponse.BodyHandlers.discarding()))
        .isInstanceOf(java.io.IOException.class);
    // gRPC on its own port, and on the HTTP port (ALPN h2, same certificate).
    for (int port : new int[] {server.grpcAddress().getPort(), server.httpAddress().getPort()}) {
      var channel = NettyChannelBuilder.forAddress("localhost", port)
          .sslContext(GrpcSslContexts.forClient().trustManager(certs.ca).build()).build();
      try {
        assertThat(CapabilitiesGrpc.newBlockingStub(channel).getCapabilities(
            GetCapabilitiesRequest.getDefaultInstance()).getCacheCapabilities().getMaxBatchTotalSizeBytes())
            .isEqualTo(4_000_000);
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void bigBlobKeptInAFile_overHttps_comesBackWhole() throws Exception {
    // Plain HTTP sends such a blob with sendfile; TLS cannot, and must read it through buffers.
    start(Map.of());
    var content = new byte[6 << 20];
    new java.util.Random(6).nextBytes(content);
    var hash = dev.buckcache.digest.DigestFunction.SHA256.hash(content);
    var client = HttpClient.newBuilder().sslContext(client(null, null)).build();
    var url = URI.create("https://127.0.0.1:" + server.httpAddress().getPort() + "/cas/" + hash);
    assertThat(client.send(HttpRequest.newBuilder(url)
        .PUT(HttpRequest.BodyPublishers.ofByteArray(content)).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
    try (var files = java.nio.file.Files.list(dir.resolve("store").resolve("blobs"))) {
      assertThat(files.count()).isEqualTo(1);
    }
    var got = client.send(HttpRequest.newBuilder(url).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(got.statusCode()).isEqualTo(200);
    assertThat(got.body()).isEqualTo(content);
  }

  @Test
  void curlHttps_onTheSharedPort_getsHttp11_andHttp2IsOnlyForGrpc() throws Exception {
    start(Map.of());
    var ca = dir.resolve("ca-for-curl.pem");
    TestCerts.write(ca, certs.ca);
    // curl offers h2 and http/1.1; the server picks http/1.1 for it.
    var curl = new ProcessBuilder("curl", "-sS", "--cacert", ca.toString(), "-o", "/dev/null",
        "-w", "%{http_code} %{http_version}", "https://localhost:" + server.httpAddress().getPort()
            + "/healthz").redirectErrorStream(true).start();
    var out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(curl.waitFor()).as(out).isZero();
    assertThat(out).isEqualTo("200 1.1");
    // Java's HttpClient (HTTP/2 preferred) gets HTTP/1.1 too.
    var response = HttpClient.newBuilder().sslContext(client(null, null)).build().send(
        HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + server.httpAddress().getPort()
            + "/healthz")).build(), HttpResponse.BodyHandlers.discarding());
    assertThat(response.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
    assertThat(server.relayedConnections()).isZero();
  }

  @Test
  void mtls_certificateRequired_cnIsTheIdentity_scopeFromConfig() throws Exception {
    start(Map.of("tls.client_ca", caFile.toString(), "tls.client_scope", "read"));
    assertThatThrownBy(() -> httpGet(client(null, null), "/healthz")).isInstanceOf(java.io.IOException.class);
    var aliceKeys = Keys.generateEs256();
    var alice = certs.client(aliceKeys, "alice");
    var ssl = client(alice, aliceKeys);
    assertThat(httpGet(ssl, "/cas/" + "a".repeat(64))).isEqualTo(404);
    var put = HttpClient.newBuilder().sslContext(ssl).build().send(HttpRequest.newBuilder(URI.create(
        "https://127.0.0.1:" + server.httpAddress().getPort() + "/ac/" + "b".repeat(64)))
        .PUT(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(put.statusCode()).isEqualTo(403);
    assertThat(put.body()).contains("cert:alice").contains("scope read");

    var keyFile = dir.resolve("alice-key.pem");
    var certPem = dir.resolve("alice.pem");
    TestCerts.write(keyFile, aliceKeys);
    TestCerts.write(certPem, alice);
    // The certificate is the identity on the gRPC port and on the HTTP port (relayed: the
    // HTTP port's TLS session reaches gRPC's auth).
    var pkcs8 = pkcs8(aliceKeys);
    for (int port : new int[] {server.grpcAddress().getPort(), server.httpAddress().getPort()}) {
      var channel = NettyChannelBuilder.forAddress("localhost", port)
          .sslContext(GrpcSslContexts.forClient().trustManager(certs.ca)
              .keyManager(certPem.toFile(), pkcs8).build()).build();
      try {
        var digest = Digest.newBuilder().setHash("c".repeat(64)).setSizeBytes(1).build();
        assertThatThrownBy(() -> ActionCacheGrpc.newBlockingStub(channel).updateActionResult(
            UpdateActionResultRequest.newBuilder().setActionDigest(digest)
                .setActionResult(ActionResult.getDefaultInstance()).build()))
            .isInstanceOf(StatusRuntimeException.class)
            .hasMessageContaining("PERMISSION_DENIED").hasMessageContaining("cert:alice");
        // A read is allowed: the caller is cert:alice (scope read), not anonymous.
        assertThat(CapabilitiesGrpc.newBlockingStub(channel).getCapabilities(
            GetCapabilitiesRequest.getDefaultInstance()).getCacheCapabilities().getActionCacheUpdateCapabilities()
            .getUpdateEnabled()).isFalse();
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    // Without a client certificate the handshake fails on the HTTP port as on the gRPC port.
    var anonymous = NettyChannelBuilder.forAddress("localhost", server.httpAddress().getPort())
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.ca).build()).build();
    try {
      assertThatThrownBy(() -> CapabilitiesGrpc.newBlockingStub(anonymous).getCapabilities(
          GetCapabilitiesRequest.getDefaultInstance())).isInstanceOf(StatusRuntimeException.class)
          .hasMessageContaining("UNAVAILABLE");
    } finally {
      anonymous.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private java.io.File pkcs8(java.security.KeyPair keys) throws Exception {
    var f = dir.resolve("pkcs8-" + System.nanoTime() + ".pem");
    java.nio.file.Files.writeString(f, "-----BEGIN PRIVATE KEY-----\n"
        + java.util.Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.UTF_8)).encodeToString(keys.getPrivate().getEncoded())
        + "\n-----END PRIVATE KEY-----\n");
    return f.toFile();
  }

  @Test
  void renewedCertificate_isServedWithoutRestart() throws Exception {
    start(Map.of());
    assertThat(servedSerial()).isEqualTo(100);
    var renewed = Keys.generateEs256();
    TestCerts.write(keyFile, renewed);
    TestCerts.write(certFile, certs.server(renewed, 200));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (servedSerial() != 200 && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    assertThat(servedSerial()).isEqualTo(200);
  }

  private long servedSerial() throws Exception {
    try (var socket = (SSLSocket) client(null, null).getSocketFactory()
        .createSocket("127.0.0.1", server.httpAddress().getPort())) {
      socket.startHandshake();
      return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber().longValue();
    }
  }

}
