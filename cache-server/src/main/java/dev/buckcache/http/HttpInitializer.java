package dev.buckcache.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.function.Function;
import javax.net.ssl.SSLSession;

/**
 * The whole HTTP pipeline: connection limit, TLS (optional), then, when the port also serves
 * gRPC, the protocol detector, which either adds the HTTP/1.1 handlers (idle timeout, codec, the
 * cache handler, which also gives each request head the idle timeout to arrive in full) or hands
 * the connection to the gRPC bridge.
 */
final class HttpInitializer extends ChannelInitializer<SocketChannel> {
  static final int MAX_INITIAL_LINE = 8 * 1024;
  static final int MAX_HEADER_SIZE = 16 * 1024;
  static final int MAX_CHUNK = 64 * 1024;

  private final HttpDeps deps;
  private final Duration idleTimeout;
  private final ConnectionLimit limit;
  private final io.netty.handler.ssl.SslContext tls;
  private final Function<SSLSession, ChannelHandler> grpcBridge;

  /** With a {@code grpcBridge} (else null), gRPC connections (the HTTP/2 preface) go to it. */
  HttpInitializer(HttpDeps deps, Duration idleTimeout, ConnectionLimit limit,
      io.netty.handler.ssl.SslContext tls, Function<SSLSession, ChannelHandler> grpcBridge) {
    this.deps = deps;
    this.idleTimeout = idleTimeout;
    this.limit = limit;
    this.tls = tls;
    this.grpcBridge = grpcBridge;
  }

  @Override
  protected void initChannel(SocketChannel ch) {
    ch.pipeline().addLast("limit", limit);
    if (tls != null) {
      ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()));
    }
    if (grpcBridge == null) {
      addHttp(ch.pipeline());
    } else {
      ch.pipeline().addLast("detect", new ProtocolDetector(ctx -> addHttp(ctx.pipeline()),
          grpcBridge, idleTimeout));
    }
  }

  /** HTTP/1.1: idle timeout, codec, the cache handler. */
  private void addHttp(ChannelPipeline pipeline) {
    pipeline
        .addLast("idle", new IdleStateHandler(0, 0, idleTimeout.toMillis(),
            java.util.concurrent.TimeUnit.MILLISECONDS))
        .addLast("codec", new HttpServerCodec(new HttpDecoderConfig()
            .setMaxInitialLineLength(MAX_INITIAL_LINE)
            .setMaxHeaderSize(MAX_HEADER_SIZE)
            .setMaxChunkSize(MAX_CHUNK)))
        .addLast("cache", new CacheHttpHandler(deps, idleTimeout));
  }
}
