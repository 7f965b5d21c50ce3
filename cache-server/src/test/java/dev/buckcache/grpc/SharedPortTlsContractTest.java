package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.auth.Keys;
import dev.buckcache.auth.TestCerts;
import dev.buckcache.auth.TlsMaterial;
import dev.buckcache.config.TlsConfig;
import dev.buckcache.storage.TieredStore;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;

/**
 * The same contract over TLS on the HTTP port: ALPN h2, TLS ended in the HTTP pipeline, the
 * cleartext HTTP/2 relayed to the gRPC services.
 */
class SharedPortTlsContractTest extends CacheContractTest {
  @org.junit.jupiter.api.io.TempDir java.nio.file.Path certDir;
  private SharedPort server;
  private TlsMaterial tls;

  @Override
  ManagedChannel start(TieredStore store) throws Exception {
    var certs = new TestCerts();
    var keys = Keys.generateEs256();
    var certFile = certDir.resolve("server.pem");
    var keyFile = certDir.resolve("server-key.pem");
    TestCerts.write(certFile, certs.server(keys, 7));
    TestCerts.write(keyFile, keys);
    tls = TlsMaterial.load(new TlsConfig(certFile, keyFile, null, "read", Duration.ofMinutes(1)));
    server = new SharedPort(store,
        dev.buckcache.auth.CallerResolver.deny(dev.buckcache.auth.Authenticator.NONE, p -> null), tls);
    return NettyChannelBuilder.forAddress("localhost", server.httpPort())
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.ca).build())
        .maxInboundMessageSize(16 << 20).build();
  }

  @Override
  void stop() throws Exception {
    assertThat(server.bridge.awaitClosed(Duration.ofSeconds(10))).isTrue();
    server.close();
    tls.close();
    assertThat(dev.buckcache.testing.LeakRecorder.collect()).isEmpty();
  }
}
