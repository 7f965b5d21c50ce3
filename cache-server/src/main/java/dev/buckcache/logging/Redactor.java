package dev.buckcache.logging;

import java.util.regex.Pattern;

/**
 * Removes credentials from a finished log line, whichever library wrote it: the value of an
 * {@code authorization} header or metadata entry, whatever follows {@code Bearer}, and any
 * JWT-shaped string (three base64url parts, the first a JSON object, so {@code eyJ…}). Logback
 * encoders apply it to every event, so no log level, format or logger can print a token.
 */
public final class Redactor {
  static final String REDACTED = "[redacted]";
  private static final Pattern HEADER = Pattern.compile(
      "(?i)(\\bauthorization\\\\?\"?\\s*[:=]\\s*\\\\?\"?)(?:bearer\\s+|basic\\s+)?[^\\s,;\\]\\)}\"\\\\]+");
  private static final Pattern BEARER = Pattern.compile("(?i)(\\bbearer\\s+)(?!\\[redacted\\])[^\\s,;\\]\\)}\"\\\\]+");
  private static final Pattern JWT = Pattern.compile(
      "\\beyJ[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*");

  private Redactor() {}

  /** The line with every credential replaced by {@code [redacted]}. */
  public static String redact(String line) {
    if (!mayHoldSecret(line)) {
      return line;
    }
    var out = JWT.matcher(line).replaceAll(REDACTED);
    out = HEADER.matcher(out).replaceAll("$1" + REDACTED);
    return BEARER.matcher(out).replaceAll("$1" + REDACTED);
  }

  /** A cheap pre-check, so ordinary lines skip the regular expressions. */
  private static boolean mayHoldSecret(String line) {
    return line.contains("eyJ") || containsIgnoreCase(line, "bearer")
        || containsIgnoreCase(line, "authorization");
  }

  private static boolean containsIgnoreCase(String s, String word) {
    int n = word.length();
    for (int i = 0; i + n <= s.length(); i++) {
      if (s.regionMatches(true, i, word, 0, n)) {
        return true;
      }
    }
    return false;
  }
}
