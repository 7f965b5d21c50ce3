package dev.buckcache.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JwtAuthenticatorTest {
  @TempDir Path dir;
  private final Instant now = Instant.parse("2026-11-29T10:00:00Z");
  private final MutableClock clock = new MutableClock(now);
  private KeyPair keys;
  private Path verifyKey;
  private Path revocations;

  /** A clock tests can move. */
  static final class MutableClock extends Clock {
    Instant instant;

    MutableClock(Instant instant) {
      this.instant = instant;
    }

    @Override public java.time.ZoneId getZone() { return ZoneOffset.UTC; }
    @Override public Clock withZone(java.time.ZoneId zone) { return this; }
    @Override public Instant instant() { return instant; }
  }

  @BeforeEach
  void keys() throws Exception {
    var signing = dir.resolve("signing-key.pem");
    Files.writeString(signing, Pem.encode(Keys.generateEs256()));
    keys = Pem.readKeyPair(signing); // the round trip the CLI does
    verifyKey = dir.resolve("verify-key.pem");
    Files.writeString(verifyKey, Pem.encode(keys.getPublic()));
    revocations = dir.resolve("revoked.txt");
  }

  private JwtAuthenticator auth(String audience) throws Exception {
    return JwtAuthenticator.create(new JwtAuthenticator.Settings(List.of(verifyKey), null,
        audience, null, revocations, false), clock);
  }

  private String token(Scope scope, Duration ttl, List<String> instances) {
    return Keys.issue(keys, "ci", scope, instances, ttl, null, null, now);
  }

  private static void rejects(JwtAuthenticator a, String header, AuthException.Reason reason) {
    assertThatThrownBy(() -> a.authenticate(header)).isInstanceOf(AuthException.class)
        .satisfies(e -> assertThat(((AuthException) e).reason()).isEqualTo(reason))
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(header == null ? "\u0000" : header.substring(7)));
  }

  @Test
  void issuedToken_verifies_withScopeAndInstances() throws Exception {
    var p = auth(null).authenticate("Bearer " + token(Scope.WRITE, Duration.ofDays(90), List.of("main")));
    assertThat(p.subject()).isEqualTo("ci");
    assertThat(p.scope()).isEqualTo(Scope.WRITE);
    assertThat(p.instances()).containsExactly("main");
    assertThat(p.permits(Access.WRITE_AC, "main", false)).isTrue();
    assertThat(p.permits(Access.READ, "other", false)).isFalse();
  }

  @Test
  void missingOrMalformedHeader_rejected() throws Exception {
    var a = auth(null);
    rejects(a, null, AuthException.Reason.MISSING);
    rejects(a, "Basic abc", AuthException.Reason.MALFORMED);
    rejects(a, "Bearer not.a.jwt", AuthException.Reason.MALFORMED);
  }

  @Test
  void expiredByOneSecond_andNotYetValid_rejected() throws Exception {
    var a = auth(null);
    var t = token(Scope.READ, Duration.ofHours(1), List.of());
    clock.instant = now.plus(Duration.ofHours(1)).plusSeconds(1);
    rejects(a, "Bearer " + t, AuthException.Reason.EXPIRED);
    clock.instant = now.minusSeconds(5);
    rejects(a, "Bearer " + t, AuthException.Reason.NOT_YET_VALID);
  }

  @Test
  void cachedToken_stillExpiresAndStillRevocable() throws Exception {
    var a = auth(null);
    var t = "Bearer " + token(Scope.READ, Duration.ofMinutes(10), List.of());
    a.authenticate(t); // cached now
    clock.instant = now.plus(Duration.ofMinutes(10)).plusSeconds(1);
    rejects(a, t, AuthException.Reason.EXPIRED);
    clock.instant = now.plusSeconds(5);
    a.authenticate(t);
    Files.writeString(revocations, "sub ci\n");
    clock.instant = now.plusSeconds(10);
    rejects(a, t, AuthException.Reason.REVOKED);
  }

  @Test
  void revokedByJti() throws Exception {
    var a = auth(null);
    var t = token(Scope.READ, Duration.ofDays(1), List.of());
    Files.writeString(revocations, "jti " + JWT.decode(t).getId() + "\n");
    clock.instant = now.plusSeconds(2); // the file is looked at once a second at most
    rejects(a, "Bearer " + t, AuthException.Reason.REVOKED);
  }

  @Test
  void forgeries_rejected() throws Exception {
    var a = auth(null);
    var good = token(Scope.READ, Duration.ofDays(1), List.of());
    var parts = good.split("\\.", -1);
    // alg: none
    var noneHeader = b64("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"" + JWT.decode(good).getKeyId() + "\"}");
    rejects(a, "Bearer " + noneHeader + "." + parts[1] + ".", AuthException.Reason.BAD_SIGNATURE);
    // HS256 signed with the public key's bytes (algorithm confusion)
    var confused = JWT.create().withKeyId(JWT.decode(good).getKeyId()).withSubject("ci")
        .withClaim("scope", "admin").withExpiresAt(now.plusSeconds(3600))
        .sign(Algorithm.HMAC256(Files.readString(verifyKey).getBytes(StandardCharsets.UTF_8)));
    rejects(a, "Bearer " + confused, AuthException.Reason.BAD_SIGNATURE);
    // tampered payload: read becomes admin
    var payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8)
        .replace("\"read\"", "\"admin\"");
    rejects(a, "Bearer " + parts[0] + "." + b64(payload) + "." + parts[2], AuthException.Reason.BAD_SIGNATURE);
    // signed by another key that claims our kid
    var other = Keys.generateEs256();
    var stolenKid = JWT.create().withKeyId(JWT.decode(good).getKeyId()).withSubject("ci")
        .withClaim("scope", "write").withExpiresAt(now.plusSeconds(3600))
        .sign(Algorithm.ECDSA256((java.security.interfaces.ECPublicKey) other.getPublic(),
            (java.security.interfaces.ECPrivateKey) other.getPrivate()));
    rejects(a, "Bearer " + stolenKid, AuthException.Reason.BAD_SIGNATURE);
    // unknown key id
    var otherToken = Keys.issue(other, "x", Scope.READ, List.of(), Duration.ofDays(1), null, null, now);
    rejects(a, "Bearer " + otherToken, AuthException.Reason.UNKNOWN_KEY);
  }

  @Test
  void wrongAudience_rejected() throws Exception {
    var a = auth("buckcache-prod");
    var t = Keys.issue(keys, "ci", Scope.READ, List.of(), Duration.ofDays(1), "staging", null, now);
    rejects(a, "Bearer " + t, AuthException.Reason.WRONG_AUDIENCE);
    var ok = Keys.issue(keys, "ci", Scope.READ, List.of(), Duration.ofDays(1), "buckcache-prod", null, now);
    assertThat(a.authenticate("Bearer " + ok).subject()).isEqualTo("ci");
  }

  @Test
  void rotation_twoKeysAcceptedByKid() throws Exception {
    var second = Keys.generateEs256();
    var secondFile = dir.resolve("second.pem");
    Files.writeString(secondFile, Pem.encode(second.getPublic()));
    var a = JwtAuthenticator.create(new JwtAuthenticator.Settings(List.of(verifyKey, secondFile),
        null, null, null, null, false), clock);
    assertThat(a.authenticate("Bearer " + token(Scope.READ, Duration.ofDays(1), List.of())).subject()).isEqualTo("ci");
    var t2 = Keys.issue(second, "laptop", Scope.READ, List.of(), Duration.ofDays(1), null, null, now);
    assertThat(a.authenticate("Bearer " + t2).subject()).isEqualTo("laptop");
  }

  @Test
  void staticTokens_andAuthTokenEnv_andAnonymousReads() throws Exception {
    var file = dir.resolve("tokens");
    Files.writeString(file, "# token subject scope instances\ns3cret-read laptop read\ns3cret-ci ci write main,dev\n");
    var s = StaticTokens.load(file, "seed-token", true);
    assertThat(s.authenticate("Bearer s3cret-read").scope()).isEqualTo(Scope.READ);
    assertThat(s.authenticate("Bearer s3cret-ci").instances()).containsExactlyInAnyOrder("main", "dev");
    assertThat(s.authenticate("Bearer seed-token").scope()).isEqualTo(Scope.WRITE);
    assertThat(s.authenticate(null)).isEqualTo(Principal.ANONYMOUS_READER);
    assertThatThrownBy(() -> s.authenticate("Bearer nope")).isInstanceOf(AuthException.class)
        .hasMessage("unknown token");
  }

  @Test
  void readScope_uploadsCasButNotActionCache_unlessStrict() {
    var reader = new Principal("r", Scope.READ, Set.of(), null);
    assertThat(reader.permits(Access.WRITE_CAS, "", false)).isTrue();
    assertThat(reader.permits(Access.WRITE_CAS, "", true)).isFalse();
    assertThat(reader.permits(Access.WRITE_AC, "", false)).isFalse();
    assertThat(reader.denial(Access.WRITE_AC, "")).isEqualTo(
        "token for 'r' (scope read) may not update the action cache");
  }

  private static String b64(String json) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void rs256Key_andHs256Secret_accepted() throws Exception {
    var generator = java.security.KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    var rsa = generator.generateKeyPair();
    var rsaFile = dir.resolve("rsa.pem");
    Files.writeString(rsaFile, Pem.encode(rsa.getPublic()));
    var secret = dir.resolve("hs256");
    Files.write(secret, "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8));
    var a = JwtAuthenticator.create(new JwtAuthenticator.Settings(List.of(rsaFile), secret, null,
        null, null, false), clock);
    var rsToken = Keys.issue(rsa, "rs", Scope.WRITE, List.of(), Duration.ofDays(1), null, null, now);
    assertThat(JWT.decode(rsToken).getAlgorithm()).isEqualTo("RS256");
    assertThat(a.authenticate("Bearer " + rsToken).subject()).isEqualTo("rs");
    var hs = JWT.create().withSubject("hs").withClaim("scope", "read").withExpiresAt(now.plusSeconds(60))
        .sign(Algorithm.HMAC256(Files.readAllBytes(secret)));
    assertThat(a.authenticate("Bearer " + hs).subject()).isEqualTo("hs");
    var wrongSecret = JWT.create().withSubject("hs").withClaim("scope", "read")
        .withExpiresAt(now.plusSeconds(60)).sign(Algorithm.HMAC256("another secret of 32 bytes......"));
    rejects(a, "Bearer " + wrongSecret, AuthException.Reason.BAD_SIGNATURE);
  }
}
