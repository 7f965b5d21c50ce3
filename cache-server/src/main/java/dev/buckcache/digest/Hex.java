package dev.buckcache.digest;

/** Lower-case hex, the only spelling of a hash on the wire and in keys. */
public final class Hex {
  private static final char[] DIGITS = "0123456789abcdef".toCharArray();

  private Hex() {}

  public static String encode(byte[] bytes) {
    var out = new char[bytes.length * 2];
    for (int i = 0; i < bytes.length; i++) {
      out[2 * i] = DIGITS[(bytes[i] >> 4) & 0xf];
      out[2 * i + 1] = DIGITS[bytes[i] & 0xf];
    }
    return new String(out);
  }

  /** True when {@code s} is non-empty lower-case hex of even length. */
  public static boolean isLowerHex(CharSequence s) {
    if (s.length() == 0 || s.length() % 2 != 0) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  /** Decodes lower-case hex; callers validate with {@link #isLowerHex} first. */
  public static byte[] decode(CharSequence s) {
    if (!isLowerHex(s)) {
      throw new IllegalArgumentException("not lower-case hex: '" + s + "'");
    }
    var out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) ((nibble(s.charAt(2 * i)) << 4) | nibble(s.charAt(2 * i + 1)));
    }
    return out;
  }

  private static int nibble(char c) {
    return c <= '9' ? c - '0' : c - 'a' + 10;
  }
}
