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
    grpc = GrpcFrontEnd.start(new InetSocketAddress("127.0.0.1", 0), store, results, executor,
        CacheContractTest.DIGESTS, CacheContractTest.BATCH, callers, false,
        tls == null ? null : tls.grpcContext(), null, bridge);
    http = HttpFrontEnd.start(new InetSocketAddress("127.0.0.1", 0), store, results, executor,
        1L << 34, idleTimeout, 100, CacheContractTest.DIGESTS, callers, false,
        tls == null ? null : tls.sharedPortContext(), () -> "{}", null, () -> "", false,
        () -> "<html></html>", bridge::relay);
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
