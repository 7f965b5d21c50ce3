package dev.buckcache.http;

import dev.buckcache.digest.InvalidDigestException;
import dev.buckcache.storage.StorageException;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that turns failures into HTTP statuses: client mistakes are 4xx, never 500.
 * Busy (executor saturated) is 503, which {@link Exchange#respondText} sends with Retry-After.
 */
final class HttpErrors {
  private static final Logger log = LoggerFactory.getLogger(HttpErrors.class);

  private HttpErrors() {}

  static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static HttpResponseStatus status(Throwable t) {
    t = unwrap(t);
    if (t instanceof StorageException.ContentMismatch || t instanceof InvalidDigestException
        || t instanceof IllegalArgumentException) {
      return HttpResponseStatus.BAD_REQUEST;
    }
    if (t instanceof StorageException.TooLarge) {
      return HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
    }
    if (t instanceof StorageException.StoreFull) {
      return HttpResponseStatus.INSUFFICIENT_STORAGE;
    }
    if (t instanceof StorageException.Busy) {
      return HttpResponseStatus.SERVICE_UNAVAILABLE;
    }
    log.error("internal error serving an HTTP request", t);
    return HttpResponseStatus.INTERNAL_SERVER_ERROR;
  }

  /**
   * Seconds a client should wait after a 503 (storage saturated, in-flight budget full): 1 to 5,
   * spread so that clients refused together do not all come back together.
   */
  static String retryAfterSeconds() {
    return Integer.toString(java.util.concurrent.ThreadLocalRandom.current().nextInt(1, 6));
  }

  static String message(Throwable t) {
    t = unwrap(t);
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
