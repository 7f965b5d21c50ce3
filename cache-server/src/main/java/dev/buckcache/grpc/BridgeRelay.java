package dev.buckcache.grpc;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.local.LocalChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The three handlers of a relayed connection (see {@link LocalBridge}'s design notes): the
 * socket side, the client LocalChannel side, and the meter at the head of grpc-java's child.
 */
final class BridgeRelay {
  private static final Logger log = LoggerFactory.getLogger(BridgeRelay.class);
  /** Bytes handed to grpc-java but not read by it yet, above which the socket is not read. */
  static final long HIGH = 1 << 20;
  /** ... and below which it is read again. */
  static final long LOW = 256 << 10;
  /**
   * Answers waiting for the socket above which it is not read either: grpc-java's limit on
   * queued control frames (PING and SETTINGS acks) counts frames until their write completes,
   * which over a LocalChannel is at once, so a client that sends pings and never reads is
   * stopped here instead.
   */
  static final long UNSENT_MAX = 8 << 20;
  /** The child's user-defined writability bit that mirrors the socket's writability. */
  private static final int SOCKET_FULL = 1;

  private BridgeRelay() {}

  /**
   * Writes what one read of the other side brought, then flushes: at once when {@code to} runs
   * on this thread (the relay on its socket's loop), else in one task on {@code to}'s loop, a
   * task (and a wake-up) per read, not per buffer, as a write from another thread would cost.
   * Either way writes keep their order, so a close that follows them comes after.
   */
  static void handOver(Channel to, List<Object> batch) {
    if (to.eventLoop().inEventLoop()) {
      writeAll(to, batch);
      return;
    }
    try {
      to.eventLoop().execute(() -> writeAll(to, batch));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      batch.forEach(ReferenceCountUtil::release);
    }
  }

  private static void writeAll(Channel to, List<Object> batch) {
    for (var msg : batch) {
      var unused = to.write(msg, to.voidPromise());
    }
    to.flush();
  }

  /** On the socket, in place of the HTTP handlers; socket loop. */
  static final class TcpSide extends ChannelInboundHandlerAdapter {
    private final LocalBridge bridge;
    private final SSLSession session;
    private final ArrayDeque<Object> pending = new ArrayDeque<>();
    private ArrayList<Object> batch = new ArrayList<>();
    private ChannelHandlerContext ctx;
    private LocalBridge.Link link;
    private Channel local;
    private boolean closed;

    TcpSide(LocalBridge bridge, SSLSession session) {
      this.bridge = bridge;
      this.session = session;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      this.ctx = ctx;
      ctx.channel().config().setAutoRead(false);
      link = new LocalBridge.Link(ctx.channel(), session);
      link.onDrained = () -> ctx.executor().execute(this::updateReading);
      var connect = new Bootstrap().group(bridge.loopsFor(ctx.channel())).channel(LocalChannel.class)
          .attr(LocalBridge.LINK, link).handler(new LocalSide(link)).connect(bridge.address());
      connect.addListener((ChannelFuture f) -> ctx.executor().execute(() -> connected(f)));
    }

    private void connected(ChannelFuture f) {
      if (!f.isSuccess()) {
        log.warn("cannot relay a gRPC connection from {} to the local gRPC server: {}",
            ctx.channel().remoteAddress(), f.cause().toString());
        releasePending();
        var unused = ctx.close();
        return;
      }
      local = f.channel();
      if (closed) {
        var unused = local.close();
        return;
      }
      while (!pending.isEmpty()) {
        forward(pending.poll());
      }
      handOverBatch();
      updateReading();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (local == null) {
        pending.add(msg);
      } else {
        forward(msg);
      }
    }

    private void forward(Object msg) {
      if (msg instanceof ByteBuf b) {
        link.unread.addAndGet(b.readableBytes());
      }
      batch.add(msg);
    }

    private void handOverBatch() {
      if (!batch.isEmpty()) {
        var out = batch; // replaced first: a direct hand-over may come back here
        batch = new ArrayList<>();
        handOver(local, out);
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (local != null) {
        handOverBatch();
        updateReading();
      }
    }

    /**
     * Reads the socket while the child keeps up and the socket takes answers; socket loop.
     * Hysteresis: reading stops above {@link #HIGH} unread bytes and resumes below {@link #LOW};
     * it stops above {@link #UNSENT_MAX} unsent and resumes once the socket is writable again.
     * (Not at every unwritable moment: a big download passes the socket's high-water mark many
     * times a second, and each stop and start costs two epoll_ctl calls.)
     */
    private void updateReading() {
      if (local == null || closed) {
        return;
      }
      var config = ctx.channel().config();
      long unread = link.unread.get();
      var out = ctx.channel().unsafe().outboundBuffer();
      long unsent = out == null ? 0 : out.totalPendingWriteBytes();
      boolean answersFlow = ctx.channel().isWritable() || (unsent < UNSENT_MAX && config.isAutoRead());
      boolean read = answersFlow && unread < (config.isAutoRead() ? HIGH : LOW);
      if (read != config.isAutoRead()) {
        config.setAutoRead(read);
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      boolean writable = ctx.channel().isWritable();
      var child = link.child;
      if (child != null) {
        Runnable mirror = () -> {
          var out = child.unsafe().outboundBuffer();
          if (out != null) {
            out.setUserDefinedWritability(SOCKET_FULL, writable);
          }
        };
        if (child.eventLoop().inEventLoop()) {
          mirror.run();
        } else {
          child.eventLoop().execute(mirror);
        }
      }
      updateReading();
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      closed = true;
      releasePending();
      if (local != null) {
        handOverBatch();
        var unused = local.close();
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      releasePending();
    }

    private void releasePending() {
      pending.forEach(ReferenceCountUtil::release);
      pending.clear();
      if (local == null) {
        batch.forEach(ReferenceCountUtil::release);
        batch.clear();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("relayed gRPC connection from {} failed: {}", ctx.channel().remoteAddress(),
          cause.toString());
      var unused = ctx.close();
    }
  }

  /** On the client LocalChannel; socket loop. What grpc-java writes goes to the socket. */
  static final class LocalSide extends ChannelInboundHandlerAdapter {
    private final LocalBridge.Link link;
    private ArrayList<Object> batch = new ArrayList<>();

    LocalSide(LocalBridge.Link link) {
      this.link = link;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      batch.add(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      handOverBatch();
    }

    private void handOverBatch() {
      if (!batch.isEmpty()) {
        var out = batch; // replaced first: a direct hand-over may come back here
        batch = new ArrayList<>();
        handOver(link.tcp, out);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      handOverBatch();
      // Writes queued before this one go out first (same order on the socket's loop).
      var unused = link.tcp.writeAndFlush(Unpooled.EMPTY_BUFFER)
          .addListener(ChannelFutureListener.CLOSE);
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("local side of a relayed gRPC connection failed: {}", cause.toString());
      var unused = ctx.close();
    }
  }

  /** First in grpc-java's child pipeline; socket loop. Counts what grpc-java has read. */
  static final class ChildMeter extends ChannelInboundHandlerAdapter {
    private final LocalBridge.Link link;

    ChildMeter(LocalBridge.Link link) {
      this.link = link;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof ByteBuf b) {
        int n = b.readableBytes();
        long left = link.unread.addAndGet(-n);
        if (left < LOW && left + n >= LOW) {
          link.onDrained.run();
        }
      }
      ctx.fireChannelRead(msg);
    }
  }
}
