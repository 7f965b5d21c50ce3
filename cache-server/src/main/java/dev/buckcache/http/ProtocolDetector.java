package dev.buckcache.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells gRPC from HTTP/1.1 on the HTTP port by the connection's first bytes (after TLS, when
 * there is TLS): the HTTP/2 client preface, which gRPC clients send at once ("prior knowledge"
 * h2c, or h2 chosen by ALPN), hands the connection to the gRPC bridge; anything else, as soon as
 * a byte differs from the preface, is HTTP/1.1. An HTTP/1.1 request asking to upgrade to h2c is
 * served as plain HTTP/1.1 (the upgrade is not offered). A connection that has not decided within
 * the idle timeout is closed, like one whose request head does not arrive.
 */
final class ProtocolDetector extends ByteToMessageDecoder {
  private static final Logger log = LoggerFactory.getLogger(ProtocolDetector.class);
  static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private final Consumer<ChannelHandlerContext> http;
  private final Function<SSLSession, ChannelHandler> grpc;
  private final long timeoutNanos;
  private ScheduledFuture<?> deadline;

  /**
   * @param http adds the HTTP/1.1 handlers after this one
   * @param grpc the handler that relays the connection to gRPC, given its TLS session or null
   */
  ProtocolDetector(Consumer<ChannelHandlerContext> http, Function<SSLSession, ChannelHandler> grpc,
      Duration timeout) {
    this.http = http;
    this.grpc = grpc;
    this.timeoutNanos = timeout.toNanos();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    deadline = ctx.executor().schedule(() -> {
      log.debug("no protocol from {} within {} ms: closing", ctx.channel().remoteAddress(),
          timeoutNanos / 1_000_000);
      var unused = ctx.close();
    }, timeoutNanos, TimeUnit.NANOSECONDS);
  }

  @Override
  protected void handlerRemoved0(ChannelHandlerContext ctx) {
    deadline.cancel(false);
  }

  /** A failed TLS handshake, say: as the cache handler does later, one DEBUG line and close. */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
    var unused = ctx.close();
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    int n = Math.min(in.readableBytes(), PREFACE.length);
    for (int i = 0; i < n; i++) {
      if (in.getByte(in.readerIndex() + i) != PREFACE[i]) {
        http.accept(ctx);
        ctx.pipeline().remove(this); // what was read goes on to the HTTP codec
        return;
      }
    }
    if (n == PREFACE.length) {
      var ssl = ctx.pipeline().get(SslHandler.class);
      var relay = grpc.apply(ssl == null ? null : ssl.engine().getSession());
      ctx.pipeline().addAfter(ctx.name(), "grpc-bridge", relay);
      ctx.pipeline().remove(this); // the preface and what follows go on to the relay
    }
  }
}
