package dev.buckcache.grpc;

import dev.buckcache.storage.FailureKind;
import dev.buckcache.storage.StorageException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one place that turns failures into gRPC statuses; nothing escapes as UNKNOWN. */
final class GrpcErrors {
  private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

  private GrpcErrors() {}

  static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  /** A status a service set itself, else the one for the failure's {@link FailureKind}. */
  static Status status(Throwable t) {
    t = FailureKind.unwrap(t);
    if (t instanceof StatusRuntimeException sre) {
      return sre.getStatus();
    }
    var message = t.getMessage();
    return switch (FailureKind.of(t)) {
      case INVALID, TOO_LARGE -> Status.INVALID_ARGUMENT.withDescription(message);
      case NO_ROOM, BUSY -> Status.RESOURCE_EXHAUSTED.withDescription(message);
      case UNAVAILABLE -> Status.UNAVAILABLE.withDescription(message);
      case INTERNAL -> {
        if (t instanceof StorageException.Failure) {
          log.error("storage failure serving a gRPC call", t);
          yield Status.INTERNAL.withDescription(message);
        }
        log.error("internal error serving a gRPC call", t);
        yield Status.INTERNAL.withDescription(t.toString());
      }
    };
  }

  static StatusRuntimeException exception(Throwable t) {
    return status(t).asRuntimeException();
  }
}
