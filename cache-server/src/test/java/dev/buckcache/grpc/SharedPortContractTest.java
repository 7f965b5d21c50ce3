package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.storage.TieredStore;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;

/** The same contract over the HTTP port: cleartext HTTP/2 relayed to the gRPC services. */
class SharedPortContractTest extends CacheContractTest {
  private SharedPort server;

  @Override
  ManagedChannel start(TieredStore store) throws Exception {
    server = new SharedPort(store,
        dev.buckcache.auth.CallerResolver.deny(dev.buckcache.auth.Authenticator.NONE, p -> null), null);
    return NettyChannelBuilder.forAddress("127.0.0.1", server.httpPort()).usePlaintext()
        .maxInboundMessageSize(16 << 20).build();
  }

  @Override
  void stop() throws Exception {
    // The channel is shut down: its relayed connection closes on both sides.
    assertThat(server.bridge.awaitClosed(java.time.Duration.ofSeconds(10))).isTrue();
    server.close();
    assertThat(dev.buckcache.testing.LeakRecorder.collect()).isEmpty();
  }
}
