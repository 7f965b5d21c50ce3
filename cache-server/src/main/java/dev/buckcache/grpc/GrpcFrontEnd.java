package dev.buckcache.grpc;

import dev.buckcache.config.DigestConfig;
import dev.buckcache.config.GrpcConfig;
import dev.buckcache.storage.CacheStore;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import dev.buckcache.storage.StorageExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The REAPI v2 cache front end (Capabilities, ContentAddressableStorage, ActionCache,
 * ByteStream, health, reflection) on grpc-java's Netty transport, set up for Buck2: a 32 MiB
 * inbound limit (Buck2 packs 4,000,000 bytes of payload plus overhead), and keepalive pings every
 * 10 s or more allowed even without calls (Buck2 pings every 30 s, idle or not).
 *
 * <p>Memory and work are bounded the way the HTTP side bounds them, by the same two limits: the
 * services run on the event loop and send every store access to the shared storage executor, and
 * each call claims from the shared in-flight byte budget what it holds (see {@link Offload}).
 * What neither limit sees is a request message while grpc-java assembles it, before the service
 * gets it: at most the 32 MiB message limit per open call, and per connection the flow-control
 * window for calls whose next message has not been asked for (a Write asks for one at a time).
 */
public final class GrpcFrontEnd implements AutoCloseable {
  public static final int MAX_INBOUND_MESSAGE = 32 << 20;

  private final Server server;
  /** The bridge's local server (gRPC on the HTTP port), or null. */
  private final Server local;
  /** The executor this front end made for itself (test entry points), else null. */
  private final StorageExecutor owned;
  private final ByteStreamService byteStream;
  private final HealthStatusManager health;

  private GrpcFrontEnd(Server server, Server local, StorageExecutor owned,
      ByteStreamService byteStream, HealthStatusManager health) {
    this.server = server;
    this.local = local;
    this.owned = owned;
    this.byteStream = byteStream;
    this.health = health;
  }

  /** Builds the services over a store; the same services serve in-process tests. */
  public static io.grpc.BindableService[] services(CacheStore store, StorageExecutor executor,
      DigestConfig digestConfig, long maxBatchBytes) {
    return services(store, new dev.buckcache.storage.ActionResults(store, store), executor,
        digestConfig, maxBatchBytes);
  }

  static io.grpc.BindableService[] services(CacheStore store,
      dev.buckcache.storage.ActionResults results, StorageExecutor executor,
      DigestConfig digestConfig, long maxBatchBytes) {
    var digests = new Digests(digestConfig);
    var offload = new Offload(executor);
    return new io.grpc.BindableService[] {
        new CapabilitiesService(maxBatchBytes),
        new CasService(store, digests, maxBatchBytes, offload),
        new ActionCacheService(store, results, digests, offload),
        new ByteStreamService(store, digests, offload)};
  }

  /** Starts building a front end for {@code config} over the store. */
  public static Builder builder(GrpcConfig config, CacheStore store) {
    return new Builder(config, store);
  }

  /** What the gRPC front end serves with; each part but the first two has a default. */
  public static final class Builder {
    private final GrpcConfig config;
    private final CacheStore store;
    private StorageExecutor executor;
    private dev.buckcache.storage.ActionResults results;
    private DigestConfig digests = DigestConfig.sha256();
    private dev.buckcache.auth.CallerResolver callers = dev.buckcache.auth.CallerResolver.deny(
        dev.buckcache.auth.Authenticator.NONE, peer -> null);
    private boolean strictReadScope;
    private io.netty.handler.ssl.SslContext tls;
    private dev.buckcache.metrics.CacheMetrics metrics;
    private LocalBridge bridge;

    private Builder(GrpcConfig config, CacheStore store) {
      this.config = java.util.Objects.requireNonNull(config, "config");
      this.store = java.util.Objects.requireNonNull(store, "store");
    }

    /**
     * The storage executor and byte budget, shared with the HTTP front end (default: one of its
     * own, 8 threads and 256 MiB, closed when the front end stops).
     */
    public Builder executor(StorageExecutor executor) {
      this.executor = executor;
      return this;
    }

    /** Action-cache reads and writes (default: over the store, counters of its own). */
    public Builder results(dev.buckcache.storage.ActionResults results) {
      this.results = results;
      return this;
    }

    public Builder digests(DigestConfig digests) {
      this.digests = java.util.Objects.requireNonNull(digests, "digests");
      return this;
    }

    /** Who calls (default: everyone, unauthenticated), and {@code auth.strict_read_scope}. */
    public Builder callers(dev.buckcache.auth.CallerResolver callers, boolean strictReadScope) {
      this.callers = java.util.Objects.requireNonNull(callers, "callers");
      this.strictReadScope = strictReadScope;
      return this;
    }

    /** TLS on the port (null: cleartext). */
    public Builder tls(io.netty.handler.ssl.SslContext tls) {
      this.tls = tls;
      return this;
    }

    public Builder metrics(dev.buckcache.metrics.CacheMetrics metrics) {
      this.metrics = metrics;
      return this;
    }

    /**
     * With a bridge, a second server with the same services and interceptors also serves the
     * gRPC connections the HTTP port relays to it.
     */
    public Builder bridge(LocalBridge bridge) {
      this.bridge = bridge;
      return this;
    }

    public GrpcFrontEnd start() throws IOException {
      boolean owned = executor == null;
      var e = owned ? new StorageExecutor(8, 1024, 256L << 20) : executor;
      var r = results == null ? new dev.buckcache.storage.ActionResults(store, store) : results;
      try {
        return GrpcFrontEnd.start(config.address(), store, r, e, owned, digests,
            config.maxBatchBytes(), callers, strictReadScope, tls, metrics, bridge);
      } catch (IOException | RuntimeException failed) {
        if (owned) {
          e.close();
        }
        throw failed;
      }
    }
  }

  @SuppressWarnings("TooManyParameters") // the builder's fields, passed once
  private static GrpcFrontEnd start(InetSocketAddress address, CacheStore store,
      dev.buckcache.storage.ActionResults results, StorageExecutor executor, boolean owned,
      DigestConfig digests, long maxBatchBytes, dev.buckcache.auth.CallerResolver callerResolver,
      boolean strictReadScope, io.netty.handler.ssl.SslContext tls,
      dev.buckcache.metrics.CacheMetrics metrics, LocalBridge bridge) throws IOException {
    var health = new HealthStatusManager();
    var builder = configure(NettyServerBuilder.forAddress(address))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance());
    ByteStreamService byteStream = null;
    if (tls != null) {
      builder.sslContext(tls);
    }
    var callers = new Callers(callerResolver, strictReadScope);
    var recorder = metrics == null ? null : new MetricsInterceptor(metrics);
    var budget = new Offload(executor);
    for (var service : services(store, results, executor, digests, maxBatchBytes)) {
      // Health stays open for probes; every cache service sees who calls. The last interceptor
      // runs first: the outer recorder sees refused and malformed calls too, the inner one
      // (after auth) sees parsed messages.
      if (recorder == null) {
        builder.addService(MalformedMessages.guard(io.grpc.ServerInterceptors.intercept(service, callers),
            budget));
      } else {
        builder.addService(io.grpc.ServerInterceptors.intercept(MalformedMessages.guard(
            io.grpc.ServerInterceptors.intercept(service, MetricsInterceptor.inner(), callers), budget),
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
        local = startLocal(bridge, server.getServices());
      } catch (IOException | RuntimeException e) {
        server.shutdownNow();
        throw e;
      }
    }
    if (metrics != null) {
      metrics.gauge("buckcache.grpc.parked.uploads", byteStream, ByteStreamService::parkedUploads);
    }
    return new GrpcFrontEnd(server, local, owned ? executor : null, byteStream, health);
  }

  /**
   * The limits, keepalive, executor and allocator of both servers: the TCP one, and the
   * bridge's local one.
   */
  private static NettyServerBuilder configure(NettyServerBuilder builder) {
    return builder
        // Services run on the event loop and only check, parse and answer there: every store
        // access goes to the bounded storage executor (Offload), as on the HTTP side.
        .directExecutor()
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
      java.util.List<io.grpc.ServerServiceDefinition> services) throws IOException {
    var builder = configure(bridge.serverBuilder());
    services.forEach(builder::addService);
    return builder.build().start();
  }

  /** Both servers (the TCP one and the bridge's local one) have stopped. */
  public boolean isTerminated() {
    return server.isTerminated() && (local == null || local.isTerminated());
  }

  /** Uploads parked for resumption now. */
  int parkedUploads() {
    return byteStream.parkedUploads();
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
    if (owned != null) {
      owned.close();
    }
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
