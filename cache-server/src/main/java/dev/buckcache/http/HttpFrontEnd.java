package dev.buckcache.http;

import static java.util.Objects.requireNonNull;

import dev.buckcache.auth.CallerResolver;
import dev.buckcache.config.DigestConfig;
import dev.buckcache.config.HttpConfig;
import dev.buckcache.metrics.CacheMetrics;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.CacheStore;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.function.Function;
import javax.net.ssl.SSLSession;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The bazel-remote-compatible HTTP/1.1 front end: binds, serves, stops gracefully. */
public final class HttpFrontEnd implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpFrontEnd.class);

  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final Channel channel;

  private HttpFrontEnd(EventLoopGroup boss, EventLoopGroup workers, Channel channel) {
    this.boss = boss;
    this.workers = workers;
    this.channel = channel;
  }

  /** Starts with fully assembled dependencies (shared counters, metrics). */
  /** Starts building a front end for {@code config} over the store and the storage executor. */
  public static Builder builder(HttpConfig config, CacheStore store, StorageExecutor executor) {
    return new Builder(config, store, executor);
  }

  /** What the HTTP front end serves with; each part but the first three has a default. */
  public static final class Builder {
    private final HttpConfig config;
    private final CacheStore store;
    private final StorageExecutor executor;
    private ActionResults results;
    private long maxBlobSize = Long.MAX_VALUE;
    private DigestConfig digests = DigestConfig.sha256();
    private CallerResolver callers = CallerResolver.deny(dev.buckcache.auth.Authenticator.NONE,
        peer -> null);
    private boolean strictReadScope;
    private SslContext tls;
    private Supplier<String> status = () -> "{}";
    private CacheMetrics metrics;
    private Supplier<String> metricsText = () -> "";
    private boolean metricsPublic;
    private Supplier<String> statusPage = () -> "<html></html>";
    private Function<SSLSession, ChannelHandler> grpcBridge;
    private dev.buckcache.insight.AuditLog audit;

    private Builder(HttpConfig config, CacheStore store, StorageExecutor executor) {
      this.config = requireNonNull(config, "config");
      this.store = requireNonNull(store, "store");
      this.executor = requireNonNull(executor, "executor");
    }

    /** Action-cache reads and writes (default: over the store, counters of its own). */
    public Builder results(ActionResults results) {
      this.results = results;
      return this;
    }

    /** {@code storage.max_blob_size} (default: none beyond the store's own). */
    public Builder maxBlobSize(long maxBlobSize) {
      this.maxBlobSize = maxBlobSize;
      return this;
    }

    public Builder digests(DigestConfig digests) {
      this.digests = requireNonNull(digests, "digests");
      return this;
    }

    /** Who calls (default: everyone, unauthenticated), and {@code auth.strict_read_scope}. */
    public Builder callers(CallerResolver callers, boolean strictReadScope) {
      this.callers = requireNonNull(callers, "callers");
      this.strictReadScope = strictReadScope;
      return this;
    }

    /** TLS on the port (null: cleartext). */
    public Builder tls(SslContext tls) {
      this.tls = tls;
      return this;
    }

    /** {@code /status}'s JSON and the status page's HTML. */
    public Builder status(Supplier<String> json, Supplier<String> page) {
      this.status = requireNonNull(json, "json");
      this.statusPage = requireNonNull(page, "page");
      return this;
    }

    /** Request metrics, {@code /metrics}' text, and whether it needs no token. */
    public Builder metrics(CacheMetrics metrics, Supplier<String> text, boolean isPublic) {
      this.metrics = metrics;
      this.metricsText = requireNonNull(text, "text");
      this.metricsPublic = isPublic;
      return this;
    }

    /** Where {@code POST /api/purge} records who purged what (null: no purge endpoint). */
    public Builder audit(dev.buckcache.insight.AuditLog audit) {
      this.audit = audit;
      return this;
    }

    /** Where gRPC connections on this port go (null: the port speaks HTTP/1.1 only). */
    public Builder grpcBridge(Function<SSLSession, ChannelHandler> grpcBridge) {
      this.grpcBridge = grpcBridge;
      return this;
    }

    public HttpFrontEnd start() throws InterruptedException {
      var r = results == null ? new ActionResults(store, store) : results;
      return HttpFrontEnd.start(config.address(), new HttpDeps(store, r, executor, maxBlobSize,
          Math.min(maxBlobSize, dev.buckcache.storage.AcEntry.MAX_SIZE), digests, callers,
          strictReadScope, status, metrics, metricsText, metricsPublic, statusPage, audit),
          config.idleTimeout(), config.maxConnections(), tls, grpcBridge);
    }
  }

  private static HttpFrontEnd start(InetSocketAddress address, HttpDeps deps, Duration idleTimeout,
      int maxConnections, SslContext tls, Function<SSLSession, ChannelHandler> grpcBridge)
      throws InterruptedException {
    boolean epoll = Epoll.isAvailable();
    var factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    var boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("buckcache-http-accept"),
        factory);
    // With gRPC relayed here, the loops host the relay's LocalChannels too (see LocalBridge).
    // Named threads, so thread dumps and flame graphs say which loops are the HTTP port's.
    var workers = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("buckcache-http"),
        grpcBridge == null ? factory : dev.buckcache.grpc.LocalBridge.hostingLocalChannels(factory));
    Class<? extends ServerChannel> channelType =
        epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    try {
      var bootstrap = new ServerBootstrap()
          .group(boss, workers)
          .channel(channelType)
          .option(ChannelOption.SO_BACKLOG, 1024)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
              new WriteBufferWaterMark(512 * 1024, 2 * 1024 * 1024))
          .childHandler(new HttpInitializer(deps, idleTimeout, new ConnectionLimit(maxConnections), tls,
              grpcBridge));
      if (tls == null) {
        warmUp(bootstrap);
      }
      var channel = bootstrap.bind(address).sync().channel();
      return new HttpFrontEnd(boss, workers, channel);
    } catch (InterruptedException | RuntimeException e) {
      var unusedBoss = boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      var unusedWorkers = workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
  }

  /**
   * A few requests through the whole pipeline on a loopback port of its own before the real port
   * opens, so a client's first request does not pay for class loading and the cold interpreter
   * (one of about 140 ms was seen here; after this, a few ms). Its connections carry {@link
   * #WARM_UP}, so they count in no metric and write no access-log line. Any failure only ends the
   * warm-up.
   */
  private static void warmUp(ServerBootstrap bootstrap) throws InterruptedException {
    var warm = bootstrap.clone().childAttr(WARM_UP, Boolean.TRUE)
        .bind(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))
        .sync().channel();
    try {
      var at = (InetSocketAddress) warm.localAddress();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
      for (int i = 0; i < 5 && System.nanoTime() < deadline; i++) {
        try (var socket = new java.net.Socket()) {
          socket.connect(at, 1000);
          socket.setSoTimeout(1000);
          socket.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          socket.getInputStream().readAllBytes();
        } catch (java.io.IOException e) {
          log.debug("warm-up request failed: {}", e.toString());
          return;
        }
      }
    } finally {
      warm.close().sync();
    }
  }

  /** Marks the warm-up's connections (see {@link #warmUp}). */
  static final io.netty.util.AttributeKey<Boolean> WARM_UP =
      io.netty.util.AttributeKey.valueOf("buckcache-http-warm-up");

  public InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  /** Stops accepting connections; open ones go on. */
  public void stopAccepting() {
    channel.close().syncUninterruptibly();
  }

  /** Stops accepting connections; open ones finish within {@code grace}, then close. */
  public void stop(Duration grace) {
    stopAccepting();
    var unused = boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    var done = workers.shutdownGracefully(Math.min(grace.toMillis(), 200), grace.toMillis(),
        TimeUnit.MILLISECONDS);
    if (!done.awaitUninterruptibly(grace.toMillis() + 2000)) {
      log.warn("HTTP connections still open after the grace period");
    }
  }

  @Override
  public void close() {
    stop(Duration.ofSeconds(5));
  }
}
