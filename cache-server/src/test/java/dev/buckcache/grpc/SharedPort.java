package dev.buckcache.grpc;

import dev.buckcache.auth.CallerResolver;
import dev.buckcache.auth.TlsMaterial;
import dev.buckcache.http.HttpFrontEnd;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.TieredStore;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Both front ends over one store, the HTTP port also serving gRPC through a {@link LocalBridge}
 * (as BuckcacheServer wires them); optionally with TLS material.
 */
final class SharedPort {
  final LocalBridge bridge = new LocalBridge(2);
  final GrpcFrontEnd grpc;
  final HttpFrontEnd http;
  private final StorageExecutor executor = new StorageExecutor(4, 1000, 64L << 20);

  SharedPort(TieredStore store, CallerResolver callers, TlsMaterial tls) throws Exception {
    this(store, callers, tls, Duration.ofSeconds(60));
  }

  SharedPort(TieredStore store, CallerResolver callers, TlsMaterial tls, Duration idleTimeout)
      throws Exception {
    var results = new ActionResults(store, store);
    grpc = GrpcFrontEnd.builder(new dev.buckcache.config.GrpcConfig(
        new InetSocketAddress("127.0.0.1", 0), CacheContractTest.BATCH), store).executor(executor)
        .results(results).digests(CacheContractTest.DIGESTS).callers(callers, false)
        .tls(tls == null ? null : tls.grpcContext()).bridge(bridge).start();
    http = HttpFrontEnd.builder(new dev.buckcache.config.HttpConfig(
        new InetSocketAddress("127.0.0.1", 0), idleTimeout, 100), store, executor)
        .results(results).maxBlobSize(1L << 34).digests(CacheContractTest.DIGESTS)
        .callers(callers, false).tls(tls == null ? null : tls.sharedPortContext())
        .grpcBridge(bridge::relay).start();
  }

  int httpPort() {
    return http.address().getPort();
  }

  /** Stops as BuckcacheServer does: gRPC first (it owns relayed calls), then the HTTP port. */
  void close() throws Exception {
    http.stopAccepting();
    grpc.close();
    http.close();
    executor.shutdown(5, java.util.concurrent.TimeUnit.SECONDS);
    executor.close();
    bridge.close();
  }
}
