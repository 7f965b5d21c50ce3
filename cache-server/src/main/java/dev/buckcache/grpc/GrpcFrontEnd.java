package dev.buckcache.grpc;

import dev.buckcache.config.DigestConfig;
import dev.buckcache.storage.TieredStore;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The REAPI v2 cache front end (Capabilities, ContentAddressableStorage, ActionCache,
 * ByteStream, health, reflection) on grpc-java's Netty transport, set up for Buck2: a 32 MiB
 * inbound limit (Buck2 packs 4,000,000 bytes of payload plus overhead), and keepalive pings every
 * 10 s or more allowed even without calls (Buck2 pings every 30 s, idle or not).
 */
public final class GrpcFrontEnd implements AutoCloseable {
  public static final int MAX_INBOUND_MESSAGE = 32 << 20;

  private final Server server;
  /** The bridge's local server (gRPC on the HTTP port), or null. */
  private final Server local;
  private final ExecutorService executor;
  private final ByteStreamService byteStream;
  private final HealthStatusManager health;

  private GrpcFrontEnd(Server server, Server local, ExecutorService executor,
      ByteStreamService byteStream, HealthStatusManager health) {
    this.server = server;
    this.local = local;
    this.executor = executor;
    this.byteStream = byteStream;
    this.health = health;
  }

  /** Builds the services over a store; the same services serve in-process tests. */
  public static io.grpc.BindableService[] services(TieredStore store, DigestConfig digestConfig,
      long maxBatchBytes) {
    return services(store, new dev.buckcache.storage.ActionResults(store, store), digestConfig,
        maxBatchBytes);
  }

  static io.grpc.BindableService[] services(TieredStore store,
      dev.buckcache.storage.ActionResults results, DigestConfig digestConfig, long maxBatchBytes) {
    var digests = new Digests(digestConfig);
    return new io.grpc.BindableService[] {
        new CapabilitiesService(maxBatchBytes),
        new CasService(store, digests, maxBatchBytes),
        new ActionCacheService(store, results, digests),
        new ByteStreamService(store, digests)};
  }

  public static GrpcFrontEnd start(InetSocketAddress address, TieredStore store,
      DigestConfig digests, long maxBatchBytes, dev.buckcache.auth.Authenticator authenticator,
      boolean strictReadScope, io.netty.handler.ssl.SslContext tls,
      java.util.function.Function<java.security.cert.Certificate[], dev.buckcache.auth.Principal> certs)
      throws IOException {
    return start(address, store, new dev.buckcache.storage.ActionResults(store, store), digests,
        maxBatchBytes, dev.buckcache.auth.CallerResolver.deny(authenticator, certs),
        strictReadScope, tls, null);
  }

  /**
   * Starts with shared action-cache counters, the caller resolution shared with the HTTP front
   * end, and, when given, metrics.
   */
  public static GrpcFrontEnd start(InetSocketAddress address, TieredStore store,
      dev.buckcache.storage.ActionResults results, DigestConfig digests, long maxBatchBytes,
      dev.buckcache.auth.CallerResolver callerResolver, boolean strictReadScope,
      io.netty.handler.ssl.SslContext tls, dev.buckcache.metrics.CacheMetrics metrics)
      throws IOException {
    return start(address, store, results, digests, maxBatchBytes, callerResolver,
        strictReadScope, tls, metrics, null);
  }

  /**
   * Like the above; with a {@code bridge}, a second server with the same services, interceptors
   * and executor also serves the gRPC connections the HTTP port relays to it.
   */
  public static GrpcFrontEnd start(InetSocketAddress address, TieredStore store,
      dev.buckcache.storage.ActionResults results, DigestConfig digests, long maxBatchBytes,
      dev.buckcache.auth.CallerResolver callerResolver, boolean strictReadScope,
      io.netty.handler.ssl.SslContext tls, dev.buckcache.metrics.CacheMetrics metrics,
      LocalBridge bridge) throws IOException {
    var counter = new AtomicInteger();
    int threads = Math.max(8, Runtime.getRuntime().availableProcessors() * 4);
    var executor = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          var t = new Thread(r, "buckcache-grpc-" + counter.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    executor.allowCoreThreadTimeOut(true);
    var health = new HealthStatusManager();
    var builder = configure(NettyServerBuilder.forAddress(address), executor)
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance());
    ByteStreamService byteStream = null;
    if (tls != null) {
      builder.sslContext(tls);
    }
    var callers = new Callers(callerResolver, strictReadScope);
    var recorder = metrics == null ? null : new MetricsInterceptor(metrics);
    for (var service : services(store, results, digests, maxBatchBytes)) {
      // Health stays open for probes; every cache service sees who calls. The last interceptor
      // runs first: the outer recorder sees refused and malformed calls too, the inner one
      // (after auth) sees parsed messages.
      if (recorder == null) {
        builder.addService(MalformedMessages.guard(io.grpc.ServerInterceptors.intercept(service, callers)));
      } else {
        builder.addService(io.grpc.ServerInterceptors.intercept(MalformedMessages.guard(
            io.grpc.ServerInterceptors.intercept(service, MetricsInterceptor.inner(), callers)),
            recorder.outer()));
      }
      if (service instanceof ByteStreamService bs) {
        byteStream = bs;
      }
    }
    var server = builder.build().start();
    Server local = null;
    if (bridge != null) {
      try {
        local = startLocal(bridge, server.getServices(), executor);
      } catch (IOException | RuntimeException e) {
        server.shutdownNow();
        throw e;
      }
    }
    return new GrpcFrontEnd(server, local, executor, byteStream, health);
  }

  /**
   * The limits, keepalive, executor and allocator of both servers: the TCP one, and the
   * bridge's local one.
   */
  private static NettyServerBuilder configure(NettyServerBuilder builder, ExecutorService executor) {
    return builder
        .executor(executor)
        .maxInboundMessageSize(MAX_INBOUND_MESSAGE)
        // Receive window per stream: a 4 MB upload chunk should not stall on window updates.
        .flowControlWindow(8 << 20)
        .maxInboundMetadataSize(64 * 1024)
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .maxConcurrentCallsPerConnection(1000)
        // grpc-java would use a private pooled allocator that no meter sees: share Netty's
        // default (adaptive) one with the HTTP side, which netty_allocator_* meters.
        .withChildOption(io.netty.channel.ChannelOption.ALLOCATOR, io.netty.buffer.ByteBufAllocator.DEFAULT);
  }

  /**
   * Starts the bridge's local server with the TCP server's very service definitions (the same
   * service objects behind the same interceptors; health and reflection included).
   */
  private static Server startLocal(LocalBridge bridge,
      java.util.List<io.grpc.ServerServiceDefinition> services, ExecutorService executor)
      throws IOException {
    var builder = configure(bridge.serverBuilder(), executor);
    services.forEach(builder::addService);
    return builder.build().start();
  }

  /** Both servers (the TCP one and the bridge's local one) have stopped. */
  public boolean isTerminated() {
    return server.isTerminated() && (local == null || local.isTerminated());
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) server.getListenSockets().get(0);
  }

  /**
   * Stops taking calls, lets running ones finish within {@code grace}, then cancels the rest;
   * the bridge's local server (gRPC on the HTTP port) the same way, at the same time.
   */
  public void stop(Duration grace) {
    long deadline = System.nanoTime() + grace.toNanos();
    health.enterTerminalState();
    server.shutdown();
    if (local != null) {
      local.shutdown();
    }
    try {
      awaitOrCancel(server, deadline);
      if (local != null) {
        awaitOrCancel(local, deadline);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      if (local != null) {
        local.shutdownNow();
      }
      Thread.currentThread().interrupt();
    }
    byteStream.close();
    executor.shutdownNow();
  }

  private static void awaitOrCancel(Server s, long deadline) throws InterruptedException {
    if (!s.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
      s.shutdownNow();
      s.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Override
  public void close() {
    stop(Duration.ofSeconds(5));
  }
}
