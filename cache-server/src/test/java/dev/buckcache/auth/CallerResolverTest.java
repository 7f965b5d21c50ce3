package dev.buckcache.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.buckcache.config.AuthConfig.Anonymous;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** auth.anonymous over a real JWT authenticator: deny, read, miss; counting; throttled WARNs. */
class CallerResolverTest {
  @TempDir Path dir;
  private TestTokens tokens;
  private final AtomicLong nanos = new AtomicLong();
  private final Ticker ticker = nanos::get;
  private final List<String> warnings = new ArrayList<>();
  private final List<String> counted = new ArrayList<>();
  private static final Principal CERT = new Principal("cert:builder", Scope.WRITE, Set.of(), null);
  private static final Certificate[] CHAIN = new Certificate[0];

  private static Principal certs(Certificate[] peer) {
    return peer == CHAIN ? CERT : null;
  }

  @BeforeEach
  void tokens() throws Exception {
    tokens = new TestTokens(dir);
  }

  private CallerResolver resolver(Anonymous mode) {
    return new CallerResolver(tokens.authenticator, mode, CallerResolverTest::certs,
        (protocol, reason) -> counted.add(protocol + " " + reason), ticker, warnings::add);
  }

  private static String bearer(String token) {
    return token == null ? null : "Bearer " + token;
  }

  private static CallerResolver.Caller resolve(CallerResolver r, String token, String host)
      throws AuthException {
    return r.resolve("grpc", bearer(token), () -> null, host);
  }

  @Test
  void miss_everyUnusableCredential_isAnEmptyCacheCallerWithAOneLineReason() throws Exception {
    var r = resolver(Anonymous.MISS);
    for (var entry : tokens.unusable().entrySet()) {
      var token = entry.getValue()[0];
      var caller = resolve(r, token, "10.0.0.1");
      assertThat(caller.emptyCache()).as(entry.getKey()).isTrue();
      assertThat(caller.principal()).isEqualTo(Principal.ANONYMOUS_MISS);
      assertThat(caller.principal().permits(Access.READ, "", false)).isFalse();
      assertThat(caller.missReason()).as(entry.getKey()).startsWith(entry.getValue()[1])
          .endsWith("(served as an anonymous cache miss)").doesNotContain("\n");
      assertThat(caller.refusal(Access.WRITE_AC, "")).isEqualTo(caller.missReason());
      if (token != null) {
        assertThat(caller.missReason()).doesNotContain(token);
      }
    }
    assertThat(counted).containsExactly("grpc MISSING", "grpc EXPIRED", "grpc BAD_SIGNATURE",
        "grpc UNKNOWN_KEY", "grpc WRONG_AUDIENCE", "grpc REVOKED", "grpc MALFORMED");
  }

  @Test
  void miss_goodTokensAndCertificates_keepTheirPrincipals() throws Exception {
    var r = resolver(Anonymous.MISS);
    var writer = resolve(r, tokens.write, "h");
    assertThat(writer.principal().subject()).isEqualTo("ci");
    assertThat(writer.emptyCache()).isFalse();
    assertThat(r.resolve("http", null, () -> CHAIN, "h").principal()).isEqualTo(CERT);
    // A token, when sent, decides (as before): a bad one with a certificate is still a miss.
    assertThat(r.resolve("http", bearer(tokens.expired), () -> CHAIN, "h").emptyCache()).isTrue();
    assertThat(counted).containsExactly("http EXPIRED");
  }

  @Test
  void deny_unusableCredentials_areRefusedAndCounted() throws Exception {
    var r = resolver(Anonymous.DENY);
    for (var entry : tokens.unusable().values()) {
      assertThatThrownBy(() -> resolve(r, entry[0], "h")).isInstanceOf(AuthException.class);
    }
    assertThat(counted).hasSize(tokens.unusable().size());
    assertThat(r.resolve("grpc", null, () -> CHAIN, "h").principal()).isEqualTo(CERT);
    assertThat(warnings).isEmpty();
  }

  @Test
  void read_noTokenReads_butABadTokenIsStillRefused() throws Exception {
    var r = resolver(Anonymous.READ);
    assertThat(resolve(r, null, "h").principal()).isEqualTo(Principal.ANONYMOUS_READER);
    assertThat(r.resolve("grpc", null, () -> CHAIN, "h").principal()).isEqualTo(CERT);
    assertThatThrownBy(() -> resolve(r, tokens.expired, "h")).isInstanceOf(AuthException.class)
        .satisfies(e -> assertThat(((AuthException) e).reason()).isEqualTo(AuthException.Reason.EXPIRED));
    assertThat(counted).containsExactly("grpc EXPIRED");
  }

  @Test
  void miss_warnsOncePerTokenAndPerHostAMinute() throws Exception {
    var r = resolver(Anonymous.MISS);
    for (int i = 0; i < 5; i++) {
      resolve(r, tokens.expired, "10.0.0.1");
      resolve(r, tokens.expired, "10.0.0.2"); // the same token from elsewhere: still one line
      resolve(r, null, "10.0.0.1");
    }
    resolve(r, null, "10.0.0.3");
    resolve(r, tokens.revoked, "10.0.0.1");
    assertThat(warnings).hasSize(4);
    assertThat(warnings.get(0)).isEqualTo("grpc caller at 10.0.0.1: token expired at "
        + TestTokens.EXPIRED_AT + ": get a new one with `buckcache token issue` (served as an "
        + "anonymous cache miss); not logged again for this token within a minute");
    assertThat(warnings.get(1)).startsWith("grpc caller at 10.0.0.1: no token: ");
    assertThat(warnings.get(2)).startsWith("grpc caller at 10.0.0.3: no token: ");
    assertThat(warnings.get(3)).contains("token has been revoked");
    assertThat(String.join("\n", warnings)).doesNotContain(tokens.expired).doesNotContain(tokens.revoked);

    nanos.addAndGet(Duration.ofSeconds(59).toNanos());
    resolve(r, tokens.expired, "10.0.0.1");
    assertThat(warnings).hasSize(4);
    nanos.addAndGet(Duration.ofSeconds(2).toNanos());
    resolve(r, tokens.expired, "10.0.0.1");
    resolve(r, null, "10.0.0.1");
    assertThat(warnings).hasSize(6);
    assertThat(counted).hasSize(5 * 3 + 2 + 3); // every call is counted, logged or not
  }
}
