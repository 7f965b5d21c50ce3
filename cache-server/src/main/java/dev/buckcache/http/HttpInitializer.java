package dev.buckcache.http;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;

/**
 * The whole HTTP pipeline: connection limit, TLS (optional), idle timeout, HTTP/1.1 codec, the
 * cache handler (which also gives each request head the idle timeout to arrive in full).
 */
final class HttpInitializer extends ChannelInitializer<SocketChannel> {
  static final int MAX_INITIAL_LINE = 8 * 1024;
  static final int MAX_HEADER_SIZE = 16 * 1024;
  static final int MAX_CHUNK = 64 * 1024;

  private final HttpDeps deps;
  private final Duration idleTimeout;
  private final ConnectionLimit limit;
  private final io.netty.handler.ssl.SslContext tls;

  HttpInitializer(HttpDeps deps, Duration idleTimeout, ConnectionLimit limit,
      io.netty.handler.ssl.SslContext tls) {
    this.deps = deps;
    this.idleTimeout = idleTimeout;
    this.limit = limit;
    this.tls = tls;
  }

  @Override
  protected void initChannel(SocketChannel ch) {
    ch.pipeline().addLast("limit", limit);
    if (tls != null) {
      ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()));
    }
    ch.pipeline()
        .addLast("idle", new IdleStateHandler(0, 0, idleTimeout.toMillis(),
            java.util.concurrent.TimeUnit.MILLISECONDS))
        .addLast("codec", new HttpServerCodec(new HttpDecoderConfig()
            .setMaxInitialLineLength(MAX_INITIAL_LINE)
            .setMaxHeaderSize(MAX_HEADER_SIZE)
            .setMaxChunkSize(MAX_CHUNK)))
        .addLast("cache", new CacheHttpHandler(deps, idleTimeout));
  }
}
