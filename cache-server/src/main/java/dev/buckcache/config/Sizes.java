package dev.buckcache.config;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Byte sizes as users write them: {@code 10GB} and {@code 512MB} are decimal (SI), {@code 1GiB}
 * and {@code 512MiB} binary; a bare number is bytes.
 */
public final class Sizes {
  private static final Pattern SIZE =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMGT]I?B|B)?", Pattern.CASE_INSENSITIVE);

  private Sizes() {}

  public static long parse(String text) {
    var m = SIZE.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("not a size; use e.g. 10GB, 512MB, 1GiB or a byte count");
    }
    double number = Double.parseDouble(m.group(1));
    var unit = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
    double bytes = number * multiplier(unit);
    if (bytes > Long.MAX_VALUE) {
      throw new IllegalArgumentException("too large");
    }
    return (long) bytes;
  }

  private static double multiplier(String unit) {
    boolean binary = unit.length() == 3;
    double base = binary ? 1024 : 1000;
    return switch (unit.charAt(0)) {
      case 'K' -> base;
      case 'M' -> base * base;
      case 'G' -> base * base * base;
      case 'T' -> base * base * base * base;
      default -> 1;
    };
  }

  /** A short human form: 10.0GB, 512.0MB, 300B. */
  public static String format(long bytes) {
    String[] units = {"B", "KB", "MB", "GB", "TB"};
    double v = bytes;
    int i = 0;
    while (v >= 1000 && i < units.length - 1) {
      v /= 1000;
      i++;
    }
    return i == 0 ? bytes + "B" : String.format(Locale.ROOT, "%.1f%s", v, units[i]);
  }
}
