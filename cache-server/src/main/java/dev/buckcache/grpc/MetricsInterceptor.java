package dev.buckcache.grpc;

import dev.buckcache.metrics.CacheMetrics;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/** Records every call (method, outcome, duration) on the way out, refused calls included. */
final class MetricsInterceptor implements ServerInterceptor {
  private final CacheMetrics metrics;

  MetricsInterceptor(CacheMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    long start = System.nanoTime();
    var method = call.getMethodDescriptor().getBareMethodName();
    var service = call.getMethodDescriptor().getServiceName();
    var kind = service == null ? "other" : service.endsWith("ActionCache") ? "ac"
        : service.endsWith("ContentAddressableStorage") || service.endsWith("ByteStream") ? "cas" : "other";
    return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        long nanos = System.nanoTime() - start;
        metrics.request("grpc", kind, method, resultOf(status.getCode(), method), nanos, 0, 0);
        var caller = Callers.CALLER.get();
        metrics.accessLog().request("grpc", method, kind, "-", status.getCode().name(), 0, 0, nanos,
            caller == null ? null : caller.principal().subject());
        super.close(status, trailers);
      }
    }, headers);
  }

  private static String resultOf(Status.Code code, String method) {
    return switch (code) {
      case OK -> method.equals("GetActionResult") || method.equals("Read") ? "hit" : "ok";
      case NOT_FOUND -> "miss";
      case UNAUTHENTICATED -> "unauthenticated";
      case PERMISSION_DENIED -> "denied";
      case INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION -> "client_error";
      default -> "server_error";
    };
  }
}
