package dev.buckcache.digest;

import static java.util.Objects.requireNonNull;

/**
 * A blob's name: the hash function, the lower-case hex hash and the size in bytes. Both the hash
 * and the size are checked when the blob is written.
 */
public record Digest(DigestFunction function, String hash, long size) {

  public Digest {
    requireNonNull(function, "function");
    requireNonNull(hash, "hash");
    if (hash.length() != function.hexLength() || !Hex.isLowerHex(hash)) {
      throw new InvalidDigestException(
          "hash '" + abbreviate(hash) + "' is not " + function.hexLength() + " lower-case hex digits ("
              + function.name().toLowerCase(java.util.Locale.ROOT) + ")");
    }
    if (size < 0) {
      throw new InvalidDigestException("size " + size + " is negative");
    }
  }

  public static Digest of(DigestFunction function, byte[] content) {
    return new Digest(function, function.hash(content), content.length);
  }

  public boolean isEmpty() {
    return size == 0 && hash.equals(function.emptyHash());
  }

  public byte[] hashBytes() {
    return Hex.decode(hash);
  }

  @Override
  public String toString() {
    return function.name().toLowerCase(java.util.Locale.ROOT) + ":" + hash + "/" + size;
  }

  private static String abbreviate(String s) {
    return s.length() <= 140 ? s : s.substring(0, 140) + "...";
  }
}
