package dev.buckcache.grpc;

import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.TieredStore;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.util.concurrent.TimeUnit;

/** The contract over grpc-java's in-process transport. */
class InProcessContractTest extends CacheContractTest {
  private Server server;
  private final StorageExecutor executor = new StorageExecutor(4, 1000, 256L << 20);

  @Override
  ManagedChannel start(TieredStore store) throws Exception {
    var name = InProcessServerBuilder.generateName();
    var builder = InProcessServerBuilder.forName(name).maxInboundMessageSize(GrpcFrontEnd.MAX_INBOUND_MESSAGE);
    for (var s : GrpcFrontEnd.services(store, executor, DIGESTS, BATCH)) {
      builder.addService(s);
    }
    server = builder.build().start();
    return InProcessChannelBuilder.forName(name).maxInboundMessageSize(16 << 20).build();
  }

  @Override
  void stop() throws Exception {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    executor.close();
  }
}
