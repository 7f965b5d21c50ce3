package dev.buckcache.config;

import java.nio.file.Path;
import java.util.List;

/**
 * How callers authenticate (auth.*). Files are read when the server starts.
 *
 * @param mode none, jwt or static
 * @param jwtPublicKeys PEM public keys (ES256 or RS256), several for rotation
 * @param jwtHmacSecretFile an HS256 secret, or null
 * @param audience required {@code aud}, or null
 * @param issuer required {@code iss}, or null
 * @param revocationFile revoked jti/subject lines, reloaded on change, or null
 * @param staticTokenFile lines TOKEN SUBJECT SCOPE [INSTANCES], or null
 * @param authToken the AUTH_TOKEN env value (a write token), or null; never logged
 * @param anonymous what a caller without a usable token gets (auth.anonymous; the older
 *     auth.allow_anonymous_reads is an alias of {@code read})
 * @param strictReadScope read tokens may not upload CAS blobs either
 */
public record AuthConfig(
    Mode mode,
    List<Path> jwtPublicKeys,
    Path jwtHmacSecretFile,
    String audience,
    String issuer,
    Path revocationFile,
    Path staticTokenFile,
    String authToken,
    Anonymous anonymous,
    boolean strictReadScope) {

  public enum Mode {
    NONE,
    JWT,
    STATIC
  }

  /**
   * What a caller without a usable token gets: {@code deny} 401 / UNAUTHENTICATED; {@code read}
   * read access when it sends no token at all; {@code miss} an empty read-only cache, also when
   * its token is expired, revoked or does not verify, so its build falls back to local work.
   */
  public enum Anonymous {
    DENY,
    READ,
    MISS;

    public static Anonymous parse(String text) {
      for (var a : values()) {
        if (a.label().equals(text.trim().toLowerCase(java.util.Locale.ROOT))) {
          return a;
        }
      }
      throw new IllegalArgumentException("not one of deny, read, miss");
    }

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public AuthConfig {
    jwtPublicKeys = List.copyOf(jwtPublicKeys);
    java.util.Objects.requireNonNull(anonymous, "anonymous");
  }

  /** The older switch: callers without a token may read (auth.anonymous read). */
  public boolean allowAnonymousReads() {
    return anonymous == Anonymous.READ;
  }

  @Override
  public String toString() {
    return "AuthConfig[mode=" + mode + ", keys=" + jwtPublicKeys + ", token file=" + staticTokenFile
        + ", anonymous=" + anonymous.label() + (authToken == null ? "" : ", AUTH_TOKEN set") + "]";
  }
}
