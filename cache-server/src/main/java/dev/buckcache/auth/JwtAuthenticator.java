package dev.buckcache.auth;

import com.auth0.jwt.JWT;
import com.auth0.jwt.JWTVerifier;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.AlgorithmMismatchException;
import com.auth0.jwt.exceptions.IncorrectClaimException;
import com.auth0.jwt.exceptions.JWTDecodeException;
import com.auth0.jwt.exceptions.JWTVerificationException;
import com.auth0.jwt.exceptions.MissingClaimException;
import com.auth0.jwt.exceptions.SignatureVerificationException;
import com.auth0.jwt.exceptions.TokenExpiredException;
import com.auth0.jwt.interfaces.DecodedJWT;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Verifies JWTs (java-jwt): ES256 and RS256 public keys, chosen by {@code kid} so keys can
 * rotate, or an HS256 secret. The algorithm comes from the configured key, never from the token
 * (no {@code alg: none}, no HS256-signed-with-a-public-key). Claims: {@code sub}, {@code exp}
 * (required), {@code nbf}, {@code jti}, {@code scope}, optional {@code instances}; {@code aud}
 * and {@code iss} when configured. A verified token is cached until it expires, so a request
 * costs a hash and a map lookup; revocation is still checked every time.
 */
public final class JwtAuthenticator implements Authenticator {
  private static final String HMAC_KID = "hmac";

  private final Map<String, JWTVerifier> verifiers;
  private final Revocations revocations;
  private final Clock clock;
  private final boolean allowAnonymousReads;
  private final Cache<String, Principal> verified =
      Caffeine.newBuilder().maximumSize(100_000).build();

  private JwtAuthenticator(Map<String, JWTVerifier> verifiers, Revocations revocations,
      Clock clock, boolean allowAnonymousReads) {
    this.verifiers = Map.copyOf(verifiers);
    this.revocations = revocations;
    this.clock = clock;
    this.allowAnonymousReads = allowAnonymousReads;
  }

  /** Settings for JWT auth. Null audience/issuer: not checked. */
  public record Settings(List<Path> publicKeys, Path hmacSecretFile, String audience,
      String issuer, Path revocationFile, boolean allowAnonymousReads) {}

  public static JwtAuthenticator create(Settings s, Clock clock) throws IOException {
    var verifiers = new HashMap<String, JWTVerifier>();
    for (var file : s.publicKeys()) {
      var key = Pem.readPublic(file);
      verifiers.put(Keys.kid(key), verifier(algorithm(key, file), s, clock));
    }
    if (s.hmacSecretFile() != null) {
      var secret = Files.readAllBytes(s.hmacSecretFile());
      if (secret.length < 32) {
        throw new IllegalArgumentException(s.hmacSecretFile() + ": an HS256 secret needs 32+ bytes");
      }
      verifiers.put(HMAC_KID, verifier(Algorithm.HMAC256(secret), s, clock));
    }
    if (verifiers.isEmpty()) {
      throw new IllegalArgumentException("jwt auth needs a verification key (--jwt-public-key)");
    }
    return new JwtAuthenticator(verifiers, new Revocations(s.revocationFile(), clock), clock,
        s.allowAnonymousReads());
  }

  private static Algorithm algorithm(PublicKey key, Path file) {
    if (key instanceof ECPublicKey ec) {
      return Algorithm.ECDSA256(ec);
    }
    if (key instanceof RSAPublicKey rsa) {
      return Algorithm.RSA256(rsa);
    }
    throw new IllegalArgumentException(file + ": only EC P-256 (ES256) and RSA (RS256) keys");
  }

  private static JWTVerifier verifier(Algorithm algorithm, Settings s, Clock clock) {
    var v = JWT.require(algorithm).acceptLeeway(0).withClaimPresence("exp").withClaimPresence("sub");
    if (s.audience() != null && !s.audience().isBlank()) {
      v.withAudience(s.audience());
    }
    if (s.issuer() != null && !s.issuer().isBlank()) {
      v.withIssuer(s.issuer());
    }
    return ((JWTVerifier.BaseVerification) v).build(clock);
  }

  @Override
  public Principal authenticate(String authorization) throws AuthException {
    if (authorization == null && allowAnonymousReads) {
      return Principal.ANONYMOUS_READER;
    }
    var token = Authenticator.bearer(authorization);
    var cacheKey = StaticTokens.hash(token);
    var principal = verified.getIfPresent(cacheKey);
    if (principal == null || !principal.expires().isAfter(clock.instant())) {
      var decoded = verify(token);
      principal = principalOf(decoded);
      if (revocations.revoked(decoded.getId(), principal.subject())) {
        throw new AuthException(AuthException.Reason.REVOKED, "token has been revoked");
      }
      verified.put(cacheKey, principal);
      revokedCheck(decoded.getId(), principal);
      return principal;
    }
    return revokedCheck(jtiOf(token), principal);
  }

  private Principal revokedCheck(String jti, Principal p) throws AuthException {
    if (revocations.revoked(jti, p.subject())) {
      throw new AuthException(AuthException.Reason.REVOKED, "token has been revoked");
    }
    return p;
  }

  private static String jtiOf(String token) {
    try {
      return JWT.decode(token).getId();
    } catch (JWTDecodeException e) {
      return null;
    }
  }

  private DecodedJWT verify(String token) throws AuthException {
    DecodedJWT decoded;
    try {
      decoded = JWT.decode(token);
    } catch (JWTDecodeException e) {
      throw new AuthException(AuthException.Reason.MALFORMED, "token is not a JWT");
    }
    var kid = decoded.getKeyId();
    var verifier = kid == null && verifiers.size() == 1
        ? verifiers.values().iterator().next()
        : verifiers.get(kid == null ? HMAC_KID : kid);
    if (verifier == null) {
      throw new AuthException(AuthException.Reason.UNKNOWN_KEY,
          "token is signed with an unknown key (kid " + kid + ")");
    }
    try {
      return verifier.verify(decoded);
    } catch (TokenExpiredException e) {
      throw new AuthException(AuthException.Reason.EXPIRED, "token expired at " + e.getExpiredOn());
    } catch (IncorrectClaimException e) {
      throw claimProblem(e.getClaimName());
    } catch (SignatureVerificationException | AlgorithmMismatchException e) {
      throw new AuthException(AuthException.Reason.BAD_SIGNATURE, "token signature does not verify");
    } catch (MissingClaimException e) {
      throw new AuthException(AuthException.Reason.MALFORMED, "token lacks the '" + e.getClaimName() + "' claim");
    } catch (JWTVerificationException e) {
      throw new AuthException(AuthException.Reason.MALFORMED, "token rejected: " + e.getMessage());
    }
  }

  private static AuthException claimProblem(String claim) {
    return switch (claim) {
      case "nbf", "iat" -> new AuthException(AuthException.Reason.NOT_YET_VALID, "token is not valid yet");
      case "aud" -> new AuthException(AuthException.Reason.WRONG_AUDIENCE, "token is for another audience");
      case "iss" -> new AuthException(AuthException.Reason.WRONG_ISSUER, "token is from another issuer");
      default -> new AuthException(AuthException.Reason.MALFORMED, "token claim '" + claim + "' is invalid");
    };
  }

  private static Principal principalOf(DecodedJWT jwt) throws AuthException {
    var scopeClaim = jwt.getClaim("scope");
    if (scopeClaim.isMissing() || scopeClaim.asString() == null) {
      throw new AuthException(AuthException.Reason.MALFORMED, "token lacks a 'scope' claim");
    }
    Scope scope;
    try {
      scope = Scope.parse(scopeClaim.asString());
    } catch (IllegalArgumentException e) {
      throw new AuthException(AuthException.Reason.MALFORMED, "token scope is not read, write or admin");
    }
    var instances = jwt.getClaim("instances").isMissing() ? List.<String>of()
        : jwt.getClaim("instances").asList(String.class);
    return new Principal(jwt.getSubject(), scope, Set.copyOf(instances == null ? List.of() : instances),
        jwt.getExpiresAtAsInstant());
  }
}
