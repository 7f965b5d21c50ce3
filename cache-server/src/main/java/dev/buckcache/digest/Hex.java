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

  /** Each ASCII character's value as a lower-case hex digit, or -1. */
  private static final byte[] VALUES = new byte[128];

  static {
    java.util.Arrays.fill(VALUES, (byte) -1);
    for (int i = 0; i < DIGITS.length; i++) {
      VALUES[DIGITS[i]] = (byte) i;
    }
  }

  /** True when {@code s} is non-empty lower-case hex of even length. */
  public static boolean isLowerHex(CharSequence s) {
    if (s.length() == 0 || s.length() % 2 != 0) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      if (value(s.charAt(i)) < 0) {
        return false;
      }
    }
    return true;
  }

  /** Decodes lower-case hex of even length; anything else is an IllegalArgumentException. */
  public static byte[] decode(CharSequence s) {
    var out = new byte[s.length() / 2];
    decodeInto(s, out, 0);
    return out;
  }

  /**
   * Decodes lower-case hex of even length into {@code out} from {@code offset}, checking each digit
   * as it goes (one pass: presence checks decode a hash per digest they are asked about).
   */
  public static void decodeInto(CharSequence s, byte[] out, int offset) {
    int n = s.length() / 2;
    if (s.length() % 2 != 0 || s.length() == 0 || offset + n > out.length) {
      throw notHex(s);
    }
    for (int i = 0; i < n; i++) {
      int hi = value(s.charAt(2 * i));
      int lo = value(s.charAt(2 * i + 1));
      if ((hi | lo) < 0) {
        throw notHex(s);
      }
      out[offset + i] = (byte) ((hi << 4) | lo);
    }
  }

  private static int value(char c) {
    return c < 128 ? VALUES[c] : -1;
  }

  private static IllegalArgumentException notHex(CharSequence s) {
    return new IllegalArgumentException("not lower-case hex: '" + s + "'");
  }
}
