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
 * @param allowAnonymousReads callers without a token may read
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
    boolean allowAnonymousReads,
    boolean strictReadScope) {

  public enum Mode {
    NONE,
    JWT,
    STATIC
  }

  public AuthConfig {
    jwtPublicKeys = List.copyOf(jwtPublicKeys);
  }

  @Override
  public String toString() {
    return "AuthConfig[mode=" + mode + ", keys=" + jwtPublicKeys + ", token file=" + staticTokenFile
        + (authToken == null ? "" : ", AUTH_TOKEN set") + "]";
  }
}
