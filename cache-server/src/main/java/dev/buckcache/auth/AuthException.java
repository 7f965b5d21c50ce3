package dev.buckcache.auth;

/**
 * A request's credentials were missing or not acceptable. The message says why in words safe to
 * return and log: it never contains the token.
 */
public final class AuthException extends Exception {
  /** Why, for metrics and logs. */
  public enum Reason {
    MISSING,
    MALFORMED,
    BAD_SIGNATURE,
    UNKNOWN_KEY,
    EXPIRED,
    NOT_YET_VALID,
    WRONG_AUDIENCE,
    WRONG_ISSUER,
    REVOKED,
    UNKNOWN_TOKEN
  }

  private final Reason reason;

  public AuthException(Reason reason, String message) {
    super(message, null, false, false);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
