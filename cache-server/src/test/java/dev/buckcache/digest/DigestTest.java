package dev.buckcache.digest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class DigestTest {
  @ParameterizedTest
  @ValueSource(strings = {"", "abc", "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
      "zz", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"})
  void new_malformedSha256Hash_rejectedWithReason(String hash) {
    assertThatThrownBy(() -> new Digest(DigestFunction.SHA256, hash, 1))
        .isInstanceOf(InvalidDigestException.class)
        .hasMessageContaining("64 lower-case hex");
  }

  @Test
  void new_negativeSize_rejected() {
    assertThatThrownBy(() -> new Digest(DigestFunction.SHA1, "a".repeat(40), -1))
        .isInstanceOf(InvalidDigestException.class)
        .hasMessageContaining("negative");
  }

  @ParameterizedTest
  @EnumSource(DigestFunction.class)
  void emptyHash_isTheHashOfNothing_andIsEmpty(DigestFunction fn) {
    assertThat(fn.emptyHash()).hasSize(fn.hexLength());
    assertThat(new Digest(fn, fn.emptyHash(), 0).isEmpty()).isTrue();
    assertThat(new Digest(fn, fn.emptyHash(), 1).isEmpty()).isFalse();
  }

  @Test
  void parse_acceptsUsersSpellings() {
    assertThat(DigestFunction.parse("sha-256")).isEqualTo(DigestFunction.SHA256);
    assertThat(DigestFunction.parse("BLAKE3")).isEqualTo(DigestFunction.BLAKE3);
    assertThatThrownBy(() -> DigestFunction.parse("md5"))
        .hasMessageContaining("use sha256, sha1, sha384, sha512 or blake3");
  }

  @Test
  void reapiNumbers_matchTheSpecification() {
    assertThat(DigestFunction.SHA256.reapiNumber()).isEqualTo(1);
    assertThat(DigestFunction.SHA1.reapiNumber()).isEqualTo(2);
    assertThat(DigestFunction.SHA384.reapiNumber()).isEqualTo(5);
    assertThat(DigestFunction.SHA512.reapiNumber()).isEqualTo(6);
    assertThat(DigestFunction.BLAKE3.reapiNumber()).isEqualTo(9);
  }
}
