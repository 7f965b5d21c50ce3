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

  /**
   * Extracts the token from {@code Bearer TOKEN}, or from {@code Basic base64(USER:TOKEN)} for
   * clients whose only credential form is a user name and password (Gradle's HTTP build cache;
   * Bazel and curl with {@code user:password@} in the URL): the password is the token and the user
   * name is ignored. Null header allowed.
   */
  static String bearer(String authorization) throws AuthException {
    if (authorization == null || authorization.isBlank()) {
      throw new AuthException(AuthException.Reason.MISSING,
          "missing credentials: send Authorization: Bearer <token>");
    }
    var v = authorization.trim();
    if (v.length() > 6 && v.regionMatches(true, 0, "Basic ", 0, 6)) {
      return basicPassword(v.substring(6).trim());
    }
    if (v.length() < 8 || !v.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw new AuthException(AuthException.Reason.MALFORMED,
          "Authorization header is not 'Bearer <token>' (or Basic with the token as password)");
    }
    return v.substring(7).trim();
  }

  private static String basicPassword(String encoded) throws AuthException {
    String decoded;
    try {
      decoded = new String(java.util.Base64.getDecoder().decode(encoded),
          java.nio.charset.StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new AuthException(AuthException.Reason.MALFORMED,
          "Authorization: Basic is not base64 of 'user:token'");
    }
    int colon = decoded.indexOf(':');
    if (colon < 0 || colon == decoded.length() - 1) {
      throw new AuthException(AuthException.Reason.MALFORMED,
          "Authorization: Basic carries no password: send any user name and the token as password");
    }
    return decoded.substring(colon + 1);
  }
}
