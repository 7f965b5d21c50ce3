package dev.buckcache.grpc;

import io.grpc.ForwardingServerCallListener;
import io.grpc.KnownLength;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Claims a unary call's request message from the in-flight byte budget before it is parsed,
 * while it is still the transport's buffer: a message that does not fit is refused with
 * RESOURCE_EXHAUSTED and never copied onto the heap. The claim is held until the call is over,
 * since the parsed request lives that long. Streaming calls (ByteStream Write) claim each message
 * themselves, as they consume it.
 *
 * <p>It sits where requests are still raw streams (inside {@link MalformedMessages#guard}), so
 * the size is the stream's known length.
 */
final class MessageBudget implements ServerInterceptor {
  private final Offload offload;

  MessageBudget(Offload offload) {
    this.offload = offload;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    var listener = next.startCall(call, headers);
    if (!call.getMethodDescriptor().getType().clientSendsOneMessage()) {
      return listener;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      private long held;
      private boolean refused;
      private final AtomicBoolean released = new AtomicBoolean();

      @Override
      public void onMessage(Q message) {
        long size = sizeOf(message);
        if (!offload.claim(size)) {
          refused = true;
          call.close(GrpcErrors.status(offload.overBudget(size)), new Metadata());
          return;
        }
        held += size;
        super.onMessage(message);
      }

      @Override
      public void onHalfClose() {
        if (!refused) {
          super.onHalfClose();
        }
      }

      @Override
      public void onComplete() {
        release();
        super.onComplete();
      }

      @Override
      public void onCancel() {
        release();
        super.onCancel();
      }

      private void release() {
        if (released.compareAndSet(false, true)) {
          offload.release(held);
        }
      }
    };
  }

  private static long sizeOf(Object message) {
    try {
      return message instanceof KnownLength && message instanceof InputStream in ? in.available() : 0;
    } catch (IOException e) {
      return 0;
    }
  }
}
