package dev.buckcache.http;

import dev.buckcache.storage.FailureKind;
import io.netty.handler.codec.http.HttpResponseStatus;
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
    return FailureKind.unwrap(t);
  }

  /** The status for a failure of the kind {@link FailureKind#of} gives it. */
  static HttpResponseStatus status(Throwable t) {
    return switch (FailureKind.of(t)) {
      case INVALID -> HttpResponseStatus.BAD_REQUEST;
      case TOO_LARGE -> HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
      case NO_ROOM -> HttpResponseStatus.INSUFFICIENT_STORAGE;
      case BUSY, UNAVAILABLE -> HttpResponseStatus.SERVICE_UNAVAILABLE;
      case INTERNAL -> {
        log.error("internal error serving an HTTP request", unwrap(t));
        yield HttpResponseStatus.INTERNAL_SERVER_ERROR;
      }
    };
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

  /**
   * An error as Turborepo's API answers it, {@code {"error":{"code":"...","message":"..."}}}:
   * turbo reads a 403 of that shape as "read-only, skip uploads" and warns once.
   */
  static String json(HttpResponseStatus status, String message) {
    var code = status.reasonPhrase().toLowerCase(java.util.Locale.ROOT).replace(' ', '_');
    var out = new StringBuilder("{\"error\":{\"code\":\"").append(code).append("\",\"message\":\"");
    for (int i = 0; i < message.length(); i++) {
      char c = message.charAt(i);
      if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (c < 0x20) {
        out.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.append("\"}}\n").toString();
  }
}
