package dev.buckcache.grpc;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoRegistration;
import io.netty.channel.local.LocalIoHandle;
import io.netty.channel.local.LocalIoHandler;

/**
 * A socket event loop's I/O handler (epoll or NIO) that also takes in-JVM
 * {@link io.netty.channel.local.LocalChannel}s, so a relayed gRPC connection's two LocalChannels
 * run on the same thread as its socket and no buffer crosses a thread on its way to grpc-java.
 *
 * <p>Design notes. A LocalChannel does no I/O of its own: its reads and writes are tasks on its
 * event loop, and Netty's {@link LocalIoHandler} only tracks registrations and parks the thread
 * when it may block. So the socket handler runs the loop (it may block in epoll_wait, and its
 * wakeup wakes the thread for local tasks too), and the local handler runs after it without
 * blocking, for its registrations' bookkeeping.
 */
final class WithLocalIoHandler implements IoHandler {
  private final IoHandler socket;
  private final IoHandler local;

  private WithLocalIoHandler(IoHandler socket, IoHandler local) {
    this.socket = socket;
    this.local = local;
  }

  /** {@code socket}'s handlers, each also hosting LocalChannels. */
  static IoHandlerFactory factory(IoHandlerFactory socket) {
    var local = LocalIoHandler.newFactory();
    return executor -> new WithLocalIoHandler(socket.newHandler(executor), local.newHandler(executor));
  }

  @Override
  public void initialize() {
    socket.initialize();
    local.initialize();
  }

  @Override
  public int run(IoHandlerContext context) {
    int handled = socket.run(context);
    return handled + local.run(new NonBlocking(context));
  }

  @Override
  public void prepareToDestroy() {
    local.prepareToDestroy();
    socket.prepareToDestroy();
  }

  @Override
  public void destroy() {
    local.destroy();
    socket.destroy();
  }

  @Override
  public IoRegistration register(IoHandle handle) throws Exception {
    return handle instanceof LocalIoHandle ? local.register(handle) : socket.register(handle);
  }

  @Override
  public void wakeup() {
    socket.wakeup();
  }

  @Override
  public boolean isCompatible(Class<? extends IoHandle> handleType) {
    return LocalIoHandle.class.isAssignableFrom(handleType) ? local.isCompatible(handleType)
        : socket.isCompatible(handleType);
  }

  /** The loop's context, but never blocking: the socket handler has had its chance to wait. */
  private record NonBlocking(IoHandlerContext context) implements IoHandlerContext {
    @Override
    public boolean canBlock() {
      return false;
    }

    @Override
    public long delayNanos(long currentTimeNanos) {
      return context.delayNanos(currentTimeNanos);
    }

    @Override
    public long deadlineNanos() {
      return context.deadlineNanos();
    }
  }
}
