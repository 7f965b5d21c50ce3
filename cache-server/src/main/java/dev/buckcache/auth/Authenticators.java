package dev.buckcache.auth;

import dev.buckcache.config.AuthConfig;
import java.io.IOException;
import java.time.Clock;

/**
 * Builds the authenticator the config asks for, reading its key and token files. Callers without
 * a token are not its business: {@link CallerResolver} applies auth.anonymous for both front ends.
 */
public final class Authenticators {
  private Authenticators() {}

  public static Authenticator create(AuthConfig c, Clock clock) throws IOException {
    return switch (c.mode()) {
      case NONE -> Authenticator.NONE;
      case STATIC -> StaticTokens.load(c.staticTokenFile(), c.authToken(), false);
      case JWT -> JwtAuthenticator.create(new JwtAuthenticator.Settings(c.jwtPublicKeys(),
          c.jwtHmacSecretFile(), c.audience(), c.issuer(), c.revocationFile(),
          false), clock);
    };
  }
}
