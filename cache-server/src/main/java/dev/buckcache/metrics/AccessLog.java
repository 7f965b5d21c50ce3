package dev.buckcache.metrics;

import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request on the {@code buckcache.access} logger, when {@code --access-log} is on:
 * protocol, method or RPC, kind, hash, status, bytes in and out, milliseconds, the caller's
 * subject and the instance; {@code rejected=N} when a batch refused N of its items. Never a
 * token. Values a client chose (hash, instance) are cut short and stripped of control
 * characters, so a client cannot forge or flood log lines.
 */
public final class AccessLog {
  private static final Logger log = LoggerFactory.getLogger("buckcache.access");
  private static final int MAX_FIELD = 200;

  private final boolean enabled;

  public AccessLog(boolean enabled) {
    this.enabled = enabled;
  }

  public static final AccessLog OFF = new AccessLog(false);

  /** What one request did, for its access-log line. */
  public record Entry(String protocol, String method, String kind, String instance, String hash,
      String status, long bytesIn, long bytesOut, long nanos, String subject, int rejected) {}

  public void request(String protocol, String method, String kind, String hash, String status,
      long bytesIn, long bytesOut, long nanos, String subject) {
    request(new Entry(protocol, method, kind, "", hash, status, bytesIn, bytesOut, nanos, subject, 0));
  }

  public void request(Entry e) {
    if (enabled) {
      log.info("{}", line(e));
    }
  }

  /** The line as logged; the default instance (empty name) shows as {@code -}. */
  static String line(Entry e) {
    var sb = new StringBuilder(160).append(e.protocol()).append(' ').append(field(e.method()))
        .append(' ').append(e.kind()).append(' ').append(field(e.hash())).append(' ')
        .append(e.status()).append(" in=").append(e.bytesIn()).append(" out=").append(e.bytesOut())
        .append(" ms=").append(String.format(Locale.ROOT, "%.1f", e.nanos() / 1e6))
        .append(" sub=").append(field(e.subject())).append(" instance=").append(field(e.instance()));
    if (e.rejected() > 0) {
      sb.append(" rejected=").append(e.rejected());
    }
    return sb.toString();
  }

  private static String field(String value) {
    if (value == null || value.isEmpty()) {
      return "-";
    }
    var s = value.length() > MAX_FIELD ? value.substring(0, MAX_FIELD) + "…" : value;
    var sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      sb.append(c < 0x20 || c == 0x7f || c == ' ' ? '_' : c);
    }
    return sb.toString();
  }
}
