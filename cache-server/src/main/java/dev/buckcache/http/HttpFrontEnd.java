package dev.buckcache.http;

import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.CacheStore;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
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
  public static HttpFrontEnd start(InetSocketAddress address, CacheStore store,
      ActionResults results, StorageExecutor executor, long maxBlobSize, Duration idleTimeout,
      int maxConnections, dev.buckcache.config.DigestConfig digests,
      dev.buckcache.auth.CallerResolver callers, boolean strictReadScope,
      io.netty.handler.ssl.SslContext tls, Supplier<String> status, dev.buckcache.metrics.CacheMetrics metrics,
      Supplier<String> metricsText, boolean metricsPublic, Supplier<String> statusPage)
      throws InterruptedException {
    return start(address, store, results, executor, maxBlobSize, idleTimeout, maxConnections,
        digests, callers, strictReadScope, tls, status, metrics, metricsText, metricsPublic,
        statusPage, null);
  }

  /**
   * Like the above; with a {@code grpcBridge}, the port also serves gRPC: a connection that
   * opens with the HTTP/2 preface is handed to the handler it makes (given the TLS session).
   */
  public static HttpFrontEnd start(InetSocketAddress address, CacheStore store,
      ActionResults results, StorageExecutor executor, long maxBlobSize, Duration idleTimeout,
      int maxConnections, dev.buckcache.config.DigestConfig digests,
      dev.buckcache.auth.CallerResolver callers, boolean strictReadScope,
      io.netty.handler.ssl.SslContext tls, Supplier<String> status, dev.buckcache.metrics.CacheMetrics metrics,
      Supplier<String> metricsText, boolean metricsPublic, Supplier<String> statusPage,
      java.util.function.Function<javax.net.ssl.SSLSession, io.netty.channel.ChannelHandler> grpcBridge)
      throws InterruptedException {
    return start(address, new HttpDeps(store, results, executor, maxBlobSize,
        Math.min(maxBlobSize, dev.buckcache.storage.AcEntry.MAX_SIZE), digests, callers, strictReadScope, status,
        metrics, metricsText, metricsPublic, statusPage), idleTimeout, maxConnections, tls,
        grpcBridge);
  }

  private static HttpFrontEnd start(InetSocketAddress address, HttpDeps deps, Duration idleTimeout,
      int maxConnections, io.netty.handler.ssl.SslContext tls,
      java.util.function.Function<javax.net.ssl.SSLSession, io.netty.channel.ChannelHandler> grpcBridge)
      throws InterruptedException {
    boolean epoll = Epoll.isAvailable();
    var factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    var boss = new MultiThreadIoEventLoopGroup(1, factory);
    var workers = new MultiThreadIoEventLoopGroup(factory);
    Class<? extends ServerChannel> channelType =
        epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    try {
      var channel = new ServerBootstrap()
          .group(boss, workers)
          .channel(channelType)
          .option(ChannelOption.SO_BACKLOG, 1024)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
              new WriteBufferWaterMark(512 * 1024, 2 * 1024 * 1024))
          .childHandler(new HttpInitializer(deps, idleTimeout, new ConnectionLimit(maxConnections), tls,
              grpcBridge))
          .bind(address).sync().channel();
      return new HttpFrontEnd(boss, workers, channel);
    } catch (InterruptedException | RuntimeException e) {
      var unusedBoss = boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      var unusedWorkers = workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
  }

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
