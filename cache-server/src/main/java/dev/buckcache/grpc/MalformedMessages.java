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
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
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
 * <p>Only requests are raw. Responses keep their protobuf marshaller, whose stream grpc-java
 * drains straight into its transport buffers (one copy of a blob's bytes). grpc-java's own
 * {@code ServerInterceptors.useInputStreamMessages} makes responses raw too: each one then went
 * through a serialized byte array and a {@code BufferedInputStream} of unknown length, three
 * copies of every byte a read sends.
 */
final class MalformedMessages implements ServerInterceptor {
  private static final MethodDescriptor.Marshaller<InputStream> STREAMS = new RawRequests();

  private MalformedMessages() {}

  /**
   * The service with its requests parsed where a failure can be answered properly, and, given a
   * budget, a unary request claimed from it before it is parsed ({@link MessageBudget}).
   */
  static ServerServiceDefinition guard(ServerServiceDefinition service, Offload budget) {
    var raw = rawRequests(service);
    return budget == null ? ServerInterceptors.intercept(raw, new MalformedMessages())
        : ServerInterceptors.intercept(raw, new MalformedMessages(), new MessageBudget(budget));
  }

  /** The service taking its requests as streams, which its handlers parse as they arrive. */
  static ServerServiceDefinition rawRequests(ServerServiceDefinition service) {
    var descriptor = service.getServiceDescriptor();
    var methods = new java.util.ArrayList<ServerMethodDefinition<InputStream, ?>>();
    for (var method : service.getMethods()) {
      methods.add(rawRequests(method));
    }
    var described = ServiceDescriptor.newBuilder(descriptor.getName())
        .setSchemaDescriptor(descriptor.getSchemaDescriptor());
    methods.forEach(m -> described.addMethod(m.getMethodDescriptor()));
    var builder = ServerServiceDefinition.builder(described.build());
    methods.forEach(builder::addMethod);
    return builder.build();
  }

  private static <Q, R> ServerMethodDefinition<InputStream, R> rawRequests(
      ServerMethodDefinition<Q, R> definition) {
    var method = definition.getMethodDescriptor();
    var handler = definition.getServerCallHandler();
    var wrapped = method.toBuilder(STREAMS, method.getResponseMarshaller()).build();
    ServerCallHandler<InputStream, R> raw = (call, headers) -> {
      var listener = handler.startCall(new TypedCall<>(call, method), headers);
      return new ServerCall.Listener<InputStream>() {
        @Override
        public void onMessage(InputStream message) {
          listener.onMessage(method.parseRequest(message));
        }

        @Override
        public void onHalfClose() {
          listener.onHalfClose();
        }

        @Override
        public void onCancel() {
          listener.onCancel();
        }

        @Override
        public void onComplete() {
          listener.onComplete();
        }

        @Override
        public void onReady() {
          listener.onReady();
        }
      };
    };
    return ServerMethodDefinition.create(wrapped, raw);
  }

  /** Request streams as they arrive (with mark support, as grpc-java's parsers expect). */
  private static final class RawRequests implements MethodDescriptor.Marshaller<InputStream> {
    @Override
    public InputStream stream(InputStream value) {
      return value;
    }

    @Override
    public InputStream parse(InputStream stream) {
      return stream.markSupported() ? stream : new java.io.BufferedInputStream(stream);
    }
  }

  /** The raw call as the service's handler sees it: its own method, its own request type. */
  private static final class TypedCall<Q, R> extends ServerCall<Q, R> {
    private final ServerCall<InputStream, R> call;
    private final MethodDescriptor<Q, R> method;

    TypedCall(ServerCall<InputStream, R> call, MethodDescriptor<Q, R> method) {
      this.call = call;
      this.method = method;
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }

    @Override
    public void request(int numMessages) {
      call.request(numMessages);
    }

    @Override
    public void sendHeaders(Metadata headers) {
      call.sendHeaders(headers);
    }

    @Override
    public void sendMessage(R message) {
      call.sendMessage(message);
    }

    @Override
    public boolean isReady() {
      return call.isReady();
    }

    @Override
    public void close(Status status, Metadata trailers) {
      call.close(status, trailers);
    }

    @Override
    public boolean isCancelled() {
      return call.isCancelled();
    }

    @Override
    public void setMessageCompression(boolean enabled) {
      call.setMessageCompression(enabled);
    }

    @Override
    public void setCompression(String compressor) {
      call.setCompression(compressor);
    }

    @Override
    public void setOnReadyThreshold(int numBytes) {
      call.setOnReadyThreshold(numBytes);
    }

    @Override
    public io.grpc.SecurityLevel getSecurityLevel() {
      return call.getSecurityLevel();
    }

    @Override
    public io.grpc.Attributes getAttributes() {
      return call.getAttributes();
    }

    @Override
    public String getAuthority() {
      return call.getAuthority();
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
