package dev.buckcache.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caps open HTTP connections: one over the limit is closed as it arrives, before it costs a
 * buffer, so a connection flood costs file descriptors only up to the limit.
 */
@ChannelHandler.Sharable
final class ConnectionLimit extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ConnectionLimit.class);
  private static final long LOG_EVERY_NANOS = 10_000_000_000L;

  private final int max;
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong lastLog = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);

  ConnectionLimit(int max) {
    this.max = max;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    if (open.incrementAndGet() > max) {
      long n = refused.incrementAndGet();
      long now = System.nanoTime();
      long last = lastLog.get();
      if (now - last >= LOG_EVERY_NANOS && lastLog.compareAndSet(last, now)) {
        log.warn("{} HTTP connections open, the limit (http.max_connections): closing new ones "
            + "({} so far)", max, n);
      }
      var unused = ctx.close();
      return;
    }
    ctx.fireChannelActive();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    open.decrementAndGet();
    ctx.fireChannelInactive();
  }

  int open() {
    return open.get();
  }

  long refused() {
    return refused.get();
  }
}
