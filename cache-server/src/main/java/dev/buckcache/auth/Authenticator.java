package dev.buckcache.auth;

/** Turns an {@code Authorization} header value into a principal. Thread-safe. */
public interface Authenticator {
  /**
   * Returns who the caller is, or throws when the header is missing or not valid.
   *
   * @param authorization the header value ({@code Bearer …}), or null when absent
   */
  Principal authenticate(String authorization) throws AuthException;

  /** No auth: everyone may do everything (loopback or --insecure-no-auth only). */
  Authenticator NONE = authorization -> Principal.UNRESTRICTED;

  /** Extracts the token from {@code Bearer TOKEN}; null header allowed. */
  static String bearer(String authorization) throws AuthException {
    if (authorization == null || authorization.isBlank()) {
      throw new AuthException(AuthException.Reason.MISSING,
          "missing credentials: send Authorization: Bearer <token>");
    }
    var v = authorization.trim();
    if (v.length() < 8 || !v.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw new AuthException(AuthException.Reason.MALFORMED,
          "Authorization header is not 'Bearer <token>'");
    }
    return v.substring(7).trim();
  }
}
