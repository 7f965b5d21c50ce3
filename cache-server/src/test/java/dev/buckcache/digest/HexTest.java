package dev.buckcache.digest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HexTest {
  @Test
  void encodeDecode_everyByteValue_roundTripsAsTheJdkSpellsIt() {
    var bytes = new byte[256];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) i;
    }
    var hex = Hex.encode(bytes);
    assertThat(hex).isEqualTo(HexFormat.of().formatHex(bytes));
    assertThat(Hex.isLowerHex(hex)).isTrue();
    assertThat(Hex.decode(hex)).isEqualTo(bytes);
  }

  @Test
  void decodeInto_atAnOffset_fillsOnlyThatRange() {
    var hash = new byte[32];
    new Random(3).nextBytes(hash);
    var out = new byte[36];
    Hex.decodeInto(Hex.encode(hash), out, 2);
    assertThat(out[0]).isZero();
    assertThat(out[1]).isZero();
    assertThat(java.util.Arrays.copyOfRange(out, 2, 34)).isEqualTo(hash);
    assertThat(out[34]).isZero();
    assertThatThrownBy(() -> Hex.decodeInto(Hex.encode(hash), new byte[33], 2))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** Characters next to the digit ranges, upper case, non-ASCII ones whose low bits look like hex. */
  @ParameterizedTest
  @ValueSource(strings = {"0/", "0:", "a`", "ag", "AB", "0A", "\u0130a", "a\u0161", "0", "abc", ""})
  void notLowerCaseHexOfEvenLength_refused(String s) {
    assertThat(Hex.isLowerHex(s)).isFalse();
    assertThatThrownBy(() -> Hex.decode(s)).isInstanceOf(IllegalArgumentException.class);
  }
}
