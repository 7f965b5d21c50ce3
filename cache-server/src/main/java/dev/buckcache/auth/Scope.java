package dev.buckcache.auth;

import java.util.Locale;

/**
 * What a token may do. {@code read} reads everything and may upload CAS blobs (they are verified
 * against their digest, so they cannot poison anything, and Buck2's upload probe needs it);
 * {@code write} may also update the action cache; {@code admin} may do everything.
 */
public enum Scope {
  READ,
  WRITE,
  ADMIN;

  public static Scope parse(String text) {
    try {
      return valueOf(text.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown scope '" + text + "' (use read, write or admin)");
    }
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
