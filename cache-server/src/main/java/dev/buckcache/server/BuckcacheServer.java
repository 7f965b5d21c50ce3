package dev.buckcache.server;

import static java.util.Objects.requireNonNull;

import dev.buckcache.auth.Authenticator;
import dev.buckcache.auth.Authenticators;
import dev.buckcache.auth.TlsMaterial;
import dev.buckcache.config.Compression;
import dev.buckcache.config.ConfigException;
import dev.buckcache.config.ServerConfig;
import dev.buckcache.config.Sizes;
import dev.buckcache.grpc.GrpcFrontEnd;
import dev.buckcache.http.HttpFrontEnd;
import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskSettings;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running server: the store, the executor front ends hand storage work to, and (as they
 * arrive) the front ends. Stopping is graceful: stop accepting, let in-flight work finish within
 * the grace period, then flush and close the store.
 */
public final class BuckcacheServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BuckcacheServer.class);

  private final ServerConfig config;
  private final TieredStore store;
  /** What the front ends serve: the local store, or the shared tier over it. */
  private final dev.buckcache.storage.CacheStore served;
  /** The shared (S3) tier, or null when none is configured. */
  private final dev.buckcache.storage.shared.SharedTier shared;
  private final StorageExecutor executor;
  private final java.time.Instant started = java.time.Instant.now();
  private HttpFrontEnd http;
  private TlsMaterial tls;
  private GrpcFrontEnd grpc;
  /** gRPC on the HTTP port: relays its HTTP/2 connections to the gRPC front end. */
  private final dev.buckcache.grpc.LocalBridge bridge = new dev.buckcache.grpc.LocalBridge();
  private final AtomicBoolean stopped = new AtomicBoolean();
  private long openMillis;

  private final io.micrometer.prometheusmetrics.PrometheusMeterRegistry registry =
      new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(
          io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
  private final dev.buckcache.storage.ActionResults results;
  private final dev.buckcache.metrics.CacheMetrics metrics;
  private final dev.buckcache.insight.InvocationLog insight;
  private final dev.buckcache.insight.AuditLog audit;

  private BuckcacheServer(ServerConfig config, TieredStore store, StorageExecutor executor) {
    this.config = config;
    this.store = store;
    this.executor = executor;
    if (config.s3() != null) {
      var meter = new dev.buckcache.metrics.SharedStoreMeter(registry);
      var bucket = new dev.buckcache.storage.shared.S3ObjectStore(config.s3(), meter);
      this.shared = new dev.buckcache.storage.shared.SharedTier(store, bucket, config.s3(),
          java.time.Clock.systemUTC(), config.storage().dir().resolve("s3-queue"),
          config.storage().maxSize() / 4);
      meter.bind(shared);
      this.served = shared;
    } else {
      this.shared = null;
      this.served = store;
    }
    this.results = new dev.buckcache.storage.ActionResults(served, served);
    this.metrics = new dev.buckcache.metrics.CacheMetrics(registry, store, results,
        new dev.buckcache.metrics.AccessLog(config.accessLog()));
    this.metrics.bindExecutor(executor);
    this.insight = new dev.buckcache.insight.InvocationLog(config.insight(), store.sideTable(),
        java.time.Clock.systemUTC(), results).start();
    this.metrics.bindInsight(insight);
    this.audit = new dev.buckcache.insight.AuditLog(config.storage().dir().resolve("audit.log"));
  }

  /** Opens the store and starts serving. */
  public static BuckcacheServer start(ServerConfig config) {
    requireNonNull(config, "config");
    var s = config.storage();
    long started = System.nanoTime();
    var disk = new DiskSettings(s.dir(), s.maxSize(), s.cleanupThreshold(),
        s.compression() == Compression.ZSTD, s.zstdLevel(), DiskSettings.DEFAULT_CHUNK_SIZE,
        s.memory() == null ? 0 : s.memory().rocksdbWith(s.memorySize()));
    var store = TieredStore.open(disk, s.memorySize(), s.maxBlobSize());
    int threads = Math.max(8, Runtime.getRuntime().availableProcessors() * 4);
    if (config.s3() != null) {
      // Shared-store calls block a storage thread for a network round trip: allow as many as
      // the bucket takes connections, so local work is not starved by a slow bucket.
      threads = Math.max(threads, Math.min(config.s3().maxConnections(), 256));
    }
    var executor = new StorageExecutor(threads, 4096, s.maxInflightBytes());
    BuckcacheServer server;
    try {
      server = new BuckcacheServer(config, store, executor);
    } catch (RuntimeException e) {
      executor.close();
      store.close();
      throw new ConfigException("s3: " + e.getMessage());
    }
    server.openMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    Authenticator authenticator;
    try {
      authenticator = Authenticators.create(config.auth(), java.time.Clock.systemUTC());
    } catch (java.io.IOException | IllegalArgumentException e) {
      server.close();
      throw new ConfigException("auth: " + e.getMessage());
    }
    boolean strict = config.auth().strictReadScope();
    io.netty.handler.ssl.SslContext httpTls = null;
    io.netty.handler.ssl.SslContext grpcTls = null;
    java.util.function.Function<java.security.cert.Certificate[], dev.buckcache.auth.Principal> certs =
        peer -> null;
    if (config.tls().enabled()) {
      try {
        server.tls = TlsMaterial.load(config.tls());
        httpTls = server.tls.sharedPortContext();
        grpcTls = server.tls.grpcContext();
        certs = server.tls::clientPrincipal;
      } catch (java.io.IOException | RuntimeException e) {
        server.close();
        throw new ConfigException("tls: " + e.getMessage());
      }
    }
    var callers = new dev.buckcache.auth.CallerResolver(authenticator, config.auth().anonymous(),
        certs, (protocol, reason) -> server.metrics.authFailure(protocol, reason.name()));
    try {
      server.http = HttpFrontEnd.builder(config.http(), server.served, executor)
          .results(server.results).maxBlobSize(s.maxBlobSize()).digests(config.digests())
          .callers(callers, strict).tls(httpTls).status(server::statusJson, server::statusPage)
          .metrics(server.metrics, server.registry::scrape, config.metricsPublic())
          .grpcBridge(server.bridge::relay).audit(server.audit).start();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.close();
      throw new IllegalStateException("interrupted while starting", e);
    } catch (RuntimeException e) {
      server.close();
      throw new StorageException.Failure("cannot listen on " + config.httpAddress()
          + " (http.address): " + e.getMessage(), e);
    }
    try {
      server.grpc = GrpcFrontEnd.builder(config.grpc(), server.served).executor(executor)
          .results(server.results).digests(config.digests()).callers(callers, strict)
          .tls(grpcTls).metrics(server.metrics).bridge(server.bridge).start();
    } catch (java.io.IOException | RuntimeException e) {
      server.close();
      throw new StorageException.Failure("cannot listen on " + config.grpcAddress()
          + " (grpc.address): " + e.getMessage(), e);
    }
    return server;
  }

  /** Logs the one line that says the server is up; call once stop handling is in place. */
  public void announceReady() {
    var s = config.storage();
    var stats = store.stats().disk();
    if (config.insecureNoAuth() && config.auth().mode() == dev.buckcache.config.AuthConfig.Mode.NONE) {
      log.warn("serving {} and {} without authentication (--insecure-no-auth)",
          config.httpAddress(), config.grpcAddress());
    }
    log.info("buckcache ready: http on {}, grpc on {}, auth {}; store {} holds {} entries, {} of {} "
            + "used (opened in {} ms); {}", hostPort(http.address()), hostPort(grpc.address()),
        config.auth().mode().name().toLowerCase(java.util.Locale.ROOT) + anonymousNote()
            + (config.tls().mutual() ? ", mtls" : config.tls().enabled() ? ", tls" : ""),
        s.dir().toAbsolutePath().normalize(),
        stats.entries(), Sizes.format(stats.usedBytes()), Sizes.format(s.maxSize()), openMillis,
        memoryLine());
    var plan = s.memory();
    if (plan != null && Runtime.getRuntime().maxMemory() > plan.heap() + plan.heap() / 16) {
      log.warn("server.memory_limit {} plans a {} heap, but this JVM may grow its heap to {}: start"
          + " through ./buckcache or the image (they set it), or add '{}' to JAVA_OPTS",
          Sizes.format(plan.limit()), Sizes.format(plan.heap()),
          Sizes.format(Runtime.getRuntime().maxMemory()), plan.jvmOptions());
    }
    if (shared != null) {
      log.info("shared store {}: writes acknowledged {}; retention {}; {}",
          shared.describe(), shared.durability()
              == dev.buckcache.storage.shared.S3Settings.Durability.SHARED
              ? "once in the bucket" : "once on the local disk, then uploaded (async)",
          config.s3().retentionDays() == 0 ? "forever"
              : config.s3().retentionDays() + " days", shared.status());
    }
  }

  /** The memory the process is held to: the JVM's limits and what the server sizes within them. */
  private String memoryLine() {
    var s = config.storage();
    long heap = Runtime.getRuntime().maxMemory();
    long direct = dev.buckcache.config.MemoryPlan.jvmMaxDirect();
    var plan = s.memory();
    return "memory: " + (plan == null ? "no limit (server.memory_limit off)"
        : "limit " + Sizes.format(plan.limit())) + "; heap max " + Sizes.format(heap)
        + " (requests in flight " + Sizes.format(s.maxInflightBytes()) + "), direct buffers max "
        + Sizes.format(direct) + " (memory tier " + Sizes.format(s.memorySize()) + ")"
        + (plan == null ? "" : ", RocksDB cache and memtables "
            + Sizes.format(plan.rocksdbWith(s.memorySize())));
  }

  /** How callers without a usable token are served, for the ready line. */
  private String anonymousNote() {
    if (config.auth().mode() == dev.buckcache.config.AuthConfig.Mode.NONE) {
      return "";
    }
    return switch (config.auth().anonymous()) {
      case DENY -> ", anonymous deny (no usable token: 401 / UNAUTHENTICATED)";
      case READ -> ", anonymous read (no token: may read)";
      case MISS -> ", anonymous miss (no, expired or bad token: an empty read-only cache)";
    };
  }

  private static String hostPort(java.net.InetSocketAddress a) {
    var host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** The gRPC front end's bound address (its port when configured as 0). */
  public java.net.InetSocketAddress grpcAddress() {
    return grpc.address();
  }

  /** The HTTP front end's bound address (its port when configured as 0). */
  public java.net.InetSocketAddress httpAddress() {
    return http.address();
  }

  /** gRPC connections the HTTP port relays now (for tests). */
  int relayedConnections() {
    return bridge.open();
  }

  /** Both gRPC servers (its port's and the HTTP port's local one) have stopped (for tests). */
  boolean grpcTerminated() {
    return grpc.isTerminated();
  }

  String statusPage() {
    var v = BuckcacheServer.class.getPackage().getImplementationVersion();
    var endpoints = (http == null ? "" : "http " + hostPort(http.address()))
        + (grpc == null ? "" : ", grpc " + hostPort(grpc.address()))
        + (shared == null ? "" : ", shared store " + shared.describe() + ": " + shared.status());
    return StatusPage.render(store.stats(), results, started, java.time.Instant.now(),
        v == null ? "dev" : v, endpoints, insight);
  }

  String statusJson() {
    var v = BuckcacheServer.class.getPackage().getImplementationVersion();
    return StatusJson.render(store.stats(), executor.inflightBytes(), started,
        java.time.Instant.now(), v == null ? "dev" : v, shared == null ? null : shared.status());
  }

  public TieredStore store() {
    return store;
  }

  public StorageExecutor executor() {
    return executor;
  }

  /**
   * Graceful stop within one grace period shared by every step; idempotent. In order: both front
   * ends stop accepting at once and drain their in-flight calls (in parallel, so the grace is not
   * spent once per front end); the storage executor then runs what was queued (reader and writer
   * closes among it) until the same deadline; last the store stops its evictor and copy-forward
   * thread, closes readers still open and closes RocksDB.
   */
  @Override
  public void close() {
    if (!stopped.compareAndSet(false, true)) {
      return;
    }
    long grace = config.shutdownGrace().toMillis();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(grace);
    log.info("stopping: finishing in-flight work (grace {} ms)", grace);
    try {
      stopFrontEnds(deadline);
      if (!executor.shutdown(left(deadline), TimeUnit.NANOSECONDS)) {
        log.warn("in-flight work did not finish within the grace period; cancelling it");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      executor.close();
      insight.close();
      // The store's own stop is bounded too; a second is the least it gets to stop its threads.
      if (shared != null) {
        shared.close();
      }
      store.close(java.time.Duration.ofNanos(Math.max(left(deadline), TimeUnit.SECONDS.toNanos(1))));
      if (tls != null) {
        tls.close();
      }
      bridge.close();
    }
    log.info("stopped cleanly: store flushed and closed");
  }

  /**
   * Stops both front ends at once, each with the time left until {@code deadline}. gRPC calls
   * relayed from the HTTP port belong to the gRPC front end: the HTTP port stops accepting at
   * once, but keeps its event loops (which carry those connections) until gRPC has stopped.
   */
  private void stopFrontEnds(long deadline) throws InterruptedException {
    if (http != null) {
      http.stopAccepting();
    }
    Thread grpcStop = null;
    if (grpc != null) {
      grpcStop = new Thread(() -> grpc.stop(java.time.Duration.ofNanos(left(deadline))),
          "buckcache-stop-grpc");
      grpcStop.start();
    }
    if (http != null) {
      var afterGrpc = grpcStop;
      var httpStop = new Thread(() -> {
        try {
          if (afterGrpc != null) {
            afterGrpc.join();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        http.stop(java.time.Duration.ofNanos(left(deadline)));
      }, "buckcache-stop-http");
      httpStop.start();
      httpStop.join();
    }
    if (grpcStop != null) {
      grpcStop.join();
    }
  }

  private static long left(long deadline) {
    return Math.max(0, deadline - System.nanoTime());
  }
}
