package dev.buckcache.grpc;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A request message that is not valid protobuf is the client's error: INVALID_ARGUMENT, and the
 * service is told the call is over (so it releases an upload in progress). grpc-java would parse
 * before any interceptor and answer UNKNOWN ("Application error processing RPC"). Here the
 * service receives raw request streams and parsing runs inside this interceptor's listener.
 *
 * <p>Responses pass through as the stream their protobuf marshaller makes, which grpc-java
 * drains straight into its transport buffers (one copy of a blob's bytes). grpc-java's own
 * {@code InputStream} marshaller (useInputStreamMessages) wraps that stream in a
 * {@code BufferedInputStream}: then every response went through a serialized byte array and a
 * stream of unknown length, three copies of every byte a read sends.
 */
final class MalformedMessages implements ServerInterceptor {
  private MalformedMessages() {}

  /**
   * The service with its requests parsed where a failure can be answered properly, and, given a
   * budget, a unary request claimed from it before it is parsed ({@link MessageBudget}).
   */
  static ServerServiceDefinition guard(ServerServiceDefinition service, Offload budget) {
    var raw = ServerInterceptors.useMarshalledMessages(service, new Streams(true),
        new Streams(false));
    return budget == null ? ServerInterceptors.intercept(raw, new MalformedMessages())
        : ServerInterceptors.intercept(raw, new MalformedMessages(), new MessageBudget(budget));
  }

  /**
   * Messages as streams: requests with mark support (grpc-java's parsers expect it), responses
   * as their marshaller made them.
   */
  private record Streams(boolean markable) implements MethodDescriptor.Marshaller<InputStream> {
    @Override
    public InputStream stream(InputStream value) {
      return value;
    }

    @Override
    public InputStream parse(InputStream stream) {
      return !markable || stream.markSupported() ? stream : new java.io.BufferedInputStream(stream);
    }
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    var closed = new AtomicBoolean();
    var once = new ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        if (closed.compareAndSet(false, true)) {
          super.close(status, trailers);
        }
      }
    };
    var rejected = new AtomicBoolean();
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(once, headers)) {
      @Override
      public void onMessage(Q message) {
        if (rejected.get()) {
          return;
        }
        try {
          super.onMessage(message);
        } catch (StatusRuntimeException e) {
          if (!(e.getCause() instanceof InvalidProtocolBufferException bad)) {
            throw e;
          }
          rejected.set(true);
          once.close(Status.INVALID_ARGUMENT.withDescription("malformed request message for "
              + call.getMethodDescriptor().getBareMethodName() + ": " + bad.getMessage()), new Metadata());
          super.onCancel(); // the service ends the call's work; its own close is ignored
        }
      }

      @Override
      public void onHalfClose() {
        if (!rejected.get()) {
          super.onHalfClose();
        }
      }

      @Override
      public void onCancel() {
        if (!rejected.get()) {
          super.onCancel();
        }
      }

      @Override
      public void onComplete() {
        if (!rejected.get()) {
          super.onComplete();
        }
      }

      @Override
      public void onReady() {
        if (!rejected.get()) {
          super.onReady();
        }
      }
    };
  }
}
