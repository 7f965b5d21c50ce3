package dev.buckcache.auth;

/**
 * A request's credentials were missing or not acceptable. The message says why in words safe to
 * return and log: it never contains the token.
 */
public final class AuthException extends Exception {
  /** Why, for metrics and logs. */
  public enum Reason {
    MISSING("get a token with `buckcache token issue` and send it as Authorization: Bearer <token>"),
    MALFORMED("send a token from `buckcache token issue` as Authorization: Bearer <token>"),
    BAD_SIGNATURE("get a new one with `buckcache token issue`, signed by a key this server trusts"),
    UNKNOWN_KEY("get a new one with `buckcache token issue`, signed by a key this server trusts"),
    EXPIRED("get a new one with `buckcache token issue`"),
    NOT_YET_VALID("check this machine's clock, or wait until the token's nbf"),
    WRONG_AUDIENCE("get one issued with the server's --audience"),
    WRONG_ISSUER("get one issued with the server's --issuer"),
    REVOKED("get a new one with `buckcache token issue`"),
    UNKNOWN_TOKEN("use a token from the server's static token file or AUTH_TOKEN");

    private final String remedy;

    Reason(String remedy) {
      this.remedy = remedy;
    }

    /** What the caller should do about it, in words safe to return. */
    public String remedy() {
      return remedy;
    }
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
