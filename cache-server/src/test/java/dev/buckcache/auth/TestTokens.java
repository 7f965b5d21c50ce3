package dev.buckcache.auth;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A JWT authenticator over a fresh ES256 key (audience checked, a revocation file), on a fixed
 * clock, and tokens for it: good ones and each kind of unusable one.
 */
public final class TestTokens {
  public static final Instant NOW = Instant.parse("2026-12-01T10:00:00Z");
  public static final String AUDIENCE = "buckcache-test";
  /** When {@link #expired} expired. */
  public static final String EXPIRED_AT = "2026-11-30T10:00:00Z";

  public final Authenticator authenticator;
  public final String write;
  public final String read;
  public final String expired;
  public final String badSignature;
  public final String unknownKey;
  public final String wrongAudience;
  public final String revoked;
  public final String malformed = "not.a.jwt";

  public TestTokens(Path dir) throws Exception {
    var keys = Keys.generateEs256();
    var verify = dir.resolve("verify-key.pem");
    Files.writeString(verify, Pem.encode(keys.getPublic()));
    var revocations = dir.resolve("revoked.txt");
    Files.writeString(revocations, "sub stolen-laptop\n");
    authenticator = JwtAuthenticator.create(new JwtAuthenticator.Settings(List.of(verify), null,
        AUDIENCE, null, revocations, false), Clock.fixed(NOW, ZoneOffset.UTC));
    write = issue(keys, "ci", Scope.WRITE, Duration.ofDays(1), AUDIENCE, NOW);
    read = issue(keys, "laptop", Scope.READ, Duration.ofDays(1), AUDIENCE, NOW);
    expired = issue(keys, "laptop", Scope.READ, Duration.ofDays(1), AUDIENCE,
        NOW.minus(Duration.ofDays(2)));
    badSignature = tampered(write);
    unknownKey = issue(Keys.generateEs256(), "ci", Scope.WRITE, Duration.ofDays(1), AUDIENCE, NOW);
    wrongAudience = issue(keys, "ci", Scope.WRITE, Duration.ofDays(1), "elsewhere", NOW);
    revoked = issue(keys, "stolen-laptop", Scope.WRITE, Duration.ofDays(1), AUDIENCE, NOW);
  }

  private static String issue(java.security.KeyPair keys, String subject, Scope scope,
      Duration ttl, String audience, Instant at) {
    return Keys.issue(keys, subject, scope, List.of(), ttl, audience, null, at);
  }

  /** The same token with its payload changed (subject ci becomes admin): the signature breaks. */
  private static String tampered(String token) {
    var parts = token.split("\\.", -1);
    var payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8)
        .replace("\"ci\"", "\"admin\"");
    return parts[0] + "." + Base64.getUrlEncoder().withoutPadding()
        .encodeToString(payload.getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
  }

  /**
   * Each kind of unusable credential, by name, with the start of the line its caller is told;
   * the value null stands for "no token at all".
   */
  public Map<String, String[]> unusable() {
    var out = new LinkedHashMap<String, String[]>();
    out.put("no token", new String[] {null, "no token: get a token with `buckcache token issue`"});
    out.put("expired", new String[] {expired, "token expired at " + EXPIRED_AT
        + ": get a new one with `buckcache token issue` (served as an anonymous cache miss)"});
    out.put("bad signature", new String[] {badSignature, "token signature does not verify"});
    out.put("unknown key", new String[] {unknownKey, "token is signed with an unknown key"});
    out.put("wrong audience", new String[] {wrongAudience, "token is for another audience"});
    out.put("revoked", new String[] {revoked, "token has been revoked"});
    out.put("malformed", new String[] {malformed, "token is not a JWT"});
    return out;
  }
}
