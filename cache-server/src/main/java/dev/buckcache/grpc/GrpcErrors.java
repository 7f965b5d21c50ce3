package dev.buckcache.grpc;

import dev.buckcache.digest.InvalidDigestException;
import dev.buckcache.storage.StorageException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one place that turns failures into gRPC statuses; nothing escapes as UNKNOWN. */
final class GrpcErrors {
  private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

  private GrpcErrors() {}

  static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  static Status status(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof StatusRuntimeException sre) {
      return sre.getStatus();
    }
    var message = t.getMessage();
    if (t instanceof StorageException.ContentMismatch || t instanceof InvalidDigestException
        || t instanceof IllegalArgumentException) {
      return Status.INVALID_ARGUMENT.withDescription(message);
    }
    if (t instanceof StorageException.TooLarge) {
      return Status.INVALID_ARGUMENT.withDescription(message);
    }
    if (t instanceof StorageException.StoreFull || t instanceof StorageException.Busy) {
      return Status.RESOURCE_EXHAUSTED.withDescription(message);
    }
    if (t instanceof StorageException.Failure) {
      log.error("storage failure serving a gRPC call", t);
      return Status.INTERNAL.withDescription(message);
    }
    log.error("internal error serving a gRPC call", t);
    return Status.INTERNAL.withDescription(t.toString());
  }

  static StatusRuntimeException exception(Throwable t) {
    return status(t).asRuntimeException();
  }
}
