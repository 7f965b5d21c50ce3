package dev.buckcache.metrics;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request on the {@code buckcache.access} logger, when {@code --access-log} is on:
 * protocol, method or RPC, kind, hash, status, bytes in and out, milliseconds, and the caller's
 * subject. Never a token.
 */
public final class AccessLog {
  private static final Logger log = LoggerFactory.getLogger("buckcache.access");

  private final boolean enabled;

  public AccessLog(boolean enabled) {
    this.enabled = enabled;
  }

  public static final AccessLog OFF = new AccessLog(false);

  public void request(String protocol, String method, String kind, String hash, String status,
      long bytesIn, long bytesOut, long nanos, String subject) {
    if (enabled) {
      log.info("{} {} {} {} {} in={} out={} ms={} sub={}", protocol, method, kind,
          hash == null || hash.isEmpty() ? "-" : hash, status, bytesIn, bytesOut,
          String.format(java.util.Locale.ROOT, "%.1f", nanos / 1e6), subject == null ? "-" : subject);
    }
  }
}
