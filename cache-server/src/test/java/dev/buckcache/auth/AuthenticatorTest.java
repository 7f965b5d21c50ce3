package dev.buckcache.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** How a token is taken from an Authorization value: Bearer, or Basic with the token as password. */
class AuthenticatorTest {
  private static String basic(String userAndPassword) {
    return "Basic " + Base64.getEncoder().encodeToString(userAndPassword.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void bearer_theTokenAfterTheScheme() throws Exception {
    assertThat(Authenticator.bearer("Bearer abc.def")).isEqualTo("abc.def");
    assertThat(Authenticator.bearer("  bearer   tok  ")).isEqualTo("tok");
  }

  @Test
  void basic_thePasswordIsTheToken_anyUserName() throws Exception {
    assertThat(Authenticator.bearer(basic("gradle:tok.en:with:colons"))).isEqualTo("tok.en:with:colons");
    assertThat(Authenticator.bearer(basic(":tok"))).isEqualTo("tok");
    assertThat(Authenticator.bearer("basic " + Base64.getEncoder().encodeToString("u:t".getBytes(StandardCharsets.UTF_8))))
        .isEqualTo("t");
  }

  @Test
  void basic_withoutPasswordOrNotBase64_isMalformed() {
    for (var bad : new String[] {basic("justauser"), basic("user:"), "Basic !!!not-base64!!!"}) {
      assertThatThrownBy(() -> Authenticator.bearer(bad)).as(bad)
          .isInstanceOfSatisfying(AuthException.class,
              e -> assertThat(e.reason()).isEqualTo(AuthException.Reason.MALFORMED));
    }
  }

  @Test
  void missingOrOtherScheme_isRefused() {
    assertThatThrownBy(() -> Authenticator.bearer(null)).isInstanceOfSatisfying(AuthException.class,
        e -> assertThat(e.reason()).isEqualTo(AuthException.Reason.MISSING));
    assertThatThrownBy(() -> Authenticator.bearer("Digest x")).isInstanceOfSatisfying(
        AuthException.class, e -> assertThat(e.reason()).isEqualTo(AuthException.Reason.MALFORMED));
  }
}
