package dev.buckcache.grpc;

import dev.buckcache.storage.TieredStore;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;

/** The same contract over the real Netty server on loopback. */
class NettyContractTest extends CacheContractTest {
  private GrpcFrontEnd server;

  @Override
  ManagedChannel start(TieredStore store) throws Exception {
    server = GrpcFrontEnd.start(new InetSocketAddress("127.0.0.1", 0), store, DIGESTS, BATCH);
    return NettyChannelBuilder.forAddress(server.address()).usePlaintext()
        .maxInboundMessageSize(16 << 20).build();
  }

  @Override
  void stop() {
    server.close();
  }
}
