package dev.buckcache.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Static tokens for the simple case. File lines: {@code TOKEN SUBJECT SCOPE [INSTANCE,...]}
 * ({@code #} starts a comment). The seed's {@code AUTH_TOKEN} env var adds one write token.
 * Lookups compare SHA-256 hashes of tokens, so timing says nothing about their bytes.
 */
public final class StaticTokens implements Authenticator {
  private final Map<String, Principal> byHash;
  private final Principal anonymous;

  private StaticTokens(Map<String, Principal> byHash, Principal anonymous) {
    this.byHash = Map.copyOf(byHash);
    this.anonymous = anonymous;
  }

  /**
   * Reads the token file (TOKEN SUBJECT SCOPE [INSTANCES] per line) and AUTH_TOKEN.
   *
   * @param file token file, or null
   * @param authToken value of AUTH_TOKEN, or null
   * @param allowAnonymousReads callers without a header get read access
   */
  public static StaticTokens load(Path file, String authToken, boolean allowAnonymousReads)
      throws IOException {
    var tokens = new HashMap<String, Principal>();
    if (file != null) {
      int n = 0;
      for (var line : Files.readAllLines(file)) {
        n++;
        var text = line.replaceAll("#.*", "").trim();
        if (text.isEmpty()) {
          continue;
        }
        var parts = text.split("\\s+", -1);
        if (parts.length < 3) {
          throw new IllegalArgumentException(file + " line " + n + ": expected TOKEN SUBJECT SCOPE [INSTANCES]");
        }
        var instances = parts.length > 3 ? Set.of(parts[3].split(",")) : Set.<String>of();
        tokens.put(hash(parts[0]), new Principal(parts[1], Scope.parse(parts[2]), instances, null));
      }
    }
    if (authToken != null && !authToken.isBlank()) {
      tokens.put(hash(authToken.trim()), new Principal("auth-token", Scope.WRITE, Set.of(), null));
    }
    if (tokens.isEmpty()) {
      throw new IllegalArgumentException("static auth has no tokens: give a token file or AUTH_TOKEN");
    }
    return new StaticTokens(tokens, allowAnonymousReads ? Principal.ANONYMOUS_READER : null);
  }

  @Override
  public Principal authenticate(String authorization) throws AuthException {
    if (authorization == null && anonymous != null) {
      return anonymous;
    }
    var principal = byHash.get(hash(Authenticator.bearer(authorization)));
    if (principal == null) {
      throw new AuthException(AuthException.Reason.UNKNOWN_TOKEN, "unknown token");
    }
    return principal;
  }

  static String hash(String token) {
    try {
      var d = MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
      return dev.buckcache.digest.Hex.encode(Arrays.copyOf(d, d.length));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
