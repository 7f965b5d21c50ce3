package dev.buckcache.grpc;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.ServerTransportFilter;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.util.AttributeKey;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSession;

/**
 * Serves gRPC on another port's connections: a connection the HTTP port recognises as HTTP/2
 * (the client preface, after TLS when there is TLS) is relayed over an in-JVM {@link LocalChannel}
 * to a second grpc-netty server bound to a {@link LocalAddress}, built by {@link GrpcFrontEnd}
 * with the same services, interceptors and executor as the TCP one. grpc-java parses HTTP/2; we
 * only move buffers.
 *
 * <p>Design notes. Each relayed connection is a {@link Link}: the TCP channel, the client-side
 * LocalChannel, and the server-side LocalChannel grpc-java serves (the "child"). The child is
 * made by {@link BridgeServerChannel}, which records it in the link and puts a meter at the head
 * of its pipeline, before grpc-java adds its handlers:
 * <ul>
 *   <li>Identity. grpc-java reads the caller's address and TLS session from the transport's
 *       attributes; over a LocalChannel there is neither. The {@link #transportFilter} replaces
 *       them, looking the link up by the child's remote address (the client LocalChannel's own
 *       address, registered before grpc-java sees the child): the TCP peer's address and, under
 *       TLS, the SSLSession of the HTTP port's SslHandler. mTLS principals, auth and logs then
 *       work exactly as on the dedicated port.
 *   <li>Backpressure. A LocalChannel has none of its own: a write lands in the peer's unbounded
 *       queue at once. So the relay counts bytes it handed to the child that the child has not
 *       read yet (the meter subtracts them) and stops reading the socket above 1 MiB; and while
 *       the socket is not writable, it marks the child unwritable (a user-defined writability
 *       bit), which stops grpc-java's HTTP/2 flow controller and makes {@code isReady()} false,
 *       as a full socket does on the dedicated port; the socket is not read meanwhile either, so
 *       a client that sends but never reads cannot make the server queue answers.
 *   <li>Threads. Both LocalChannels of a link run on the socket's own event loop: the HTTP
 *       port's loops also host LocalChannels ({@link #hostingLocalChannels}), the client
 *       LocalChannel is registered on its socket's loop and {@link BridgeLoops} registers the
 *       child on its peer's. So a buffer never crosses a thread between the socket and
 *       grpc-java's HTTP/2 handler, as on the dedicated port. (With one bridge loop per link
 *       instead, each crossed once each way: FindMissingBlobs with one caller ran at 0.82x of
 *       the dedicated port.) A socket on a loop that hosts no LocalChannels (tests) uses the
 *       bridge's loops.
 *   <li>Lifetime. Closing either end closes the other: the socket closes the client LocalChannel,
 *       which closes the child; grpc-java closing the child (GOAWAY on shutdown) closes the
 *       client LocalChannel, whose handler flushes and closes the socket.
 * </ul>
 *
 * <p>Why this way. grpc-java serves only channels it accepts itself, so the choices were: this
 * in-JVM relay; a loopback TCP or Unix-socket hop to the dedicated port (kernel copies and
 * syscalls both ways, the dedicated port forced onto loopback, the caller's identity recovered
 * by port numbers); or letting grpc-java own the port with a custom ProtocolNegotiator that hands
 * HTTP/1.1 connections back (internal grpc-java API, and every HTTP/1.1 connection would be a
 * grpc transport that its graceful shutdown waits for). The relay uses only public APIs, hands
 * the same ByteBuf objects across (no copy), and keeps one front end in charge of each protocol.
 */
public final class LocalBridge implements AutoCloseable {
  static final AttributeKey<Link> LINK = AttributeKey.valueOf("buckcache-bridge-link");

  private final LocalAddress address = new LocalAddress("buckcache-grpc-" + UUID.randomUUID());
  private final BridgeLoops loops;
  private final Map<SocketAddress, Link> links = new ConcurrentHashMap<>();

  /** One relayed connection: the TCP side, and what grpc-java should see as its transport. */
  static final class Link {
    final Channel tcp;
    final SSLSession session;
    final java.util.concurrent.atomic.AtomicLong unread = new java.util.concurrent.atomic.AtomicLong();
    volatile Channel child;
    volatile Runnable onDrained = () -> {};

    Link(Channel tcp, SSLSession session) {
      this.tcp = tcp;
      this.session = session;
    }
  }

  /** With {@code threads} bridge event loops (daemon threads {@code buckcache-bridge-N}). */
  public LocalBridge(int threads) {
    var counter = new AtomicInteger();
    this.loops = new BridgeLoops(threads, r -> {
      var t = new Thread(r, "buckcache-bridge-" + counter.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /** A bridge with one event loop per core. */
  public LocalBridge() {
    this(Runtime.getRuntime().availableProcessors());
  }

  LocalAddress address() {
    return address;
  }

  MultiThreadIoEventLoopGroup loops() {
    return loops;
  }

  /**
   * The I/O handlers for the event loops of a port that relays gRPC: {@code socket}'s, also
   * hosting LocalChannels, so that a relayed connection's LocalChannels run on its socket's loop.
   */
  public static io.netty.channel.IoHandlerFactory hostingLocalChannels(
      io.netty.channel.IoHandlerFactory socket) {
    return WithLocalIoHandler.factory(socket);
  }

  /**
   * The loops a relayed connection's LocalChannels run on: its socket's own loop when that loop
   * hosts LocalChannels ({@link #hostingLocalChannels}), else the bridge's.
   */
  io.netty.channel.EventLoopGroup loopsFor(Channel tcp) {
    return tcp.eventLoop() instanceof io.netty.channel.IoEventLoop loop
        && loop.isCompatible(io.netty.channel.local.LocalIoHandle.class) ? loop : loops;
  }

  /** A builder for the local server: its address, channel, loops and the identity filter. */
  NettyServerBuilder serverBuilder() {
    return NettyServerBuilder.forAddress(address)
        .channelFactory(() -> new BridgeServerChannel(this))
        .bossEventLoopGroup(loops)
        .workerEventLoopGroup(loops)
        // grpc-java sets SO_KEEPALIVE on every child; a LocalChannel has no socket (null removes
        // the option, which would otherwise cost a warning per connection).
        .withChildOption(io.netty.channel.ChannelOption.SO_KEEPALIVE, null)
        // A LocalChannel's writes pass to its peer at once, so its own buffer limit only sets how
        // much grpc-java writes between flushes: the socket's limits (the HTTP port's), not the
        // 64 KiB default. The socket's writability still stops it (see the design notes).
        .withChildOption(io.netty.channel.ChannelOption.WRITE_BUFFER_WATER_MARK,
            new io.netty.channel.WriteBufferWaterMark(512 * 1024, 2 * 1024 * 1024))
        .addTransportFilter(transportFilter());
  }

  /**
   * The handler that takes over an HTTP-port connection found to speak HTTP/2: put it where
   * the HTTP handlers were. {@code session} is the connection's TLS session, or null.
   */
  public ChannelHandler relay(SSLSession session) {
    return new BridgeRelay.TcpSide(this, session);
  }

  /** Relayed connections open now. */
  public int open() {
    return links.size();
  }

  /** Relayed connections whose grpc-java side runs on their socket's own event loop (for tests). */
  int onTheirSocketsLoop() {
    int n = 0;
    for (var link : links.values()) {
      var child = link.child;
      n += child != null && child.eventLoop() == link.tcp.eventLoop() ? 1 : 0;
    }
    return n;
  }

  /** Bytes waiting in the relayed sockets' outbound buffers now (for tests). */
  long pendingToClients() {
    long n = 0;
    for (var link : links.values()) {
      var out = link.tcp.unsafe().outboundBuffer();
      n += out == null ? 0 : out.totalPendingWriteBytes();
    }
    return n;
  }

  /** Waits until every relayed connection has closed, at most {@code timeout}. */
  public boolean awaitClosed(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!links.isEmpty()) {
      if (System.nanoTime() >= deadline) {
        return false;
      }
      Thread.sleep(10);
    }
    return true;
  }

  /** Called by the local server channel as it makes the child for a client LocalChannel. */
  void childMade(LocalChannel peer, LocalChannel child) {
    var link = peer.attr(LINK).get();
    if (link == null) {
      return;
    }
    link.child = child;
    child.attr(BridgeLoops.PEER_LOOP).set(peer.eventLoop());
    child.pipeline().addLast("bridge-meter", new BridgeRelay.ChildMeter(link));
    var key = peer.localAddress();
    links.put(key, link);
    child.closeFuture().addListener(f -> links.remove(key));
  }

  ServerTransportFilter transportFilter() {
    return new ServerTransportFilter() {
      @Override
      public Attributes transportReady(Attributes attributes) {
        var link = links.get(attributes.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
        if (link == null) {
          return attributes;
        }
        var real = attributes.toBuilder()
            .set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, link.tcp.remoteAddress())
            .set(Grpc.TRANSPORT_ATTR_LOCAL_ADDR, link.tcp.localAddress());
        if (link.session != null) {
          real.set(Grpc.TRANSPORT_ATTR_SSL_SESSION, link.session);
        }
        return real.build();
      }
    };
  }

  /** Stops the bridge's event loops; call after the local server and the HTTP port stopped. */
  @Override
  public void close() {
    loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }

  /** The local server's channel: records each child it makes in its link. */
  static final class BridgeServerChannel extends LocalServerChannel {
    private final LocalBridge bridge;

    BridgeServerChannel(LocalBridge bridge) {
      this.bridge = bridge;
    }

    @Override
    protected LocalChannel newLocalChannel(LocalChannel peer) {
      var link = peer.attr(LINK).get();
      var child = link == null ? super.newLocalChannel(peer) : new RelayedChild(this, peer, link);
      bridge.childMade(peer, child);
      return child;
    }
  }

  /**
   * The channel grpc-java serves a relayed connection on. Its writes go straight to the socket
   * when both run on one loop, instead of through the peer LocalChannel's inbound queue and the
   * relay's handler: a 64 MiB download is some 8,000 buffers (HTTP/2 frames and their headers),
   * and each hop per buffer showed in ByteStream read throughput. Order is kept: the socket gets
   * them in write order, and a close that follows (the peer's) comes after them.
   */
  static final class RelayedChild extends LocalChannel {
    private final Link link;

    RelayedChild(LocalServerChannel parent, LocalChannel peer, Link link) {
      super(parent, peer);
      this.link = link;
    }

    @Override
    protected void doWrite(io.netty.channel.ChannelOutboundBuffer in) throws Exception {
      var tcp = link.tcp;
      if (!isActive() || tcp.eventLoop() != eventLoop()) {
        super.doWrite(in); // closed (LocalChannel fails the writes), or another thread's socket
        return;
      }
      if (!tcp.isActive()) { // the socket is gone: fail the writes once, and close this side
        var closed = new java.nio.channels.ClosedChannelException();
        while (in.current() != null) {
          in.remove(closed);
        }
        var unused = close();
        return;
      }
      for (Object msg = in.current(); msg != null; msg = in.current()) {
        var unused = tcp.write(io.netty.util.ReferenceCountUtil.retain(msg), tcp.voidPromise());
        in.remove();
      }
      tcp.flush();
    }
  }

  /** Local-transport loops that register a child on its peer's loop. */
  static final class BridgeLoops extends MultiThreadIoEventLoopGroup {
    static final AttributeKey<EventLoop> PEER_LOOP = AttributeKey.valueOf("buckcache-bridge-peer-loop");

    BridgeLoops(int threads, java.util.concurrent.ThreadFactory factory) {
      super(threads, factory, LocalIoHandler.newFactory());
    }

    @Override
    public ChannelFuture register(Channel channel) {
      var loop = channel.attr(PEER_LOOP).getAndSet(null);
      return loop != null ? loop.register(channel) : super.register(channel);
    }
  }
}
