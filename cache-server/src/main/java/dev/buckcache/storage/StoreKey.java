package dev.buckcache.storage;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.Hex;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The byte key of one stored entry, shared by both tiers. CAS: {@code 'C' fn hash}; AC: {@code 'A'
 * fn hash instance}. Equality is by content.
 */
public final class StoreKey {
  private static final byte CAS = 'C';
  private static final byte AC = 'A';

  private final byte[] bytes;
  private final int hash;

  private StoreKey(byte[] bytes) {
    this.bytes = bytes;
    this.hash = Arrays.hashCode(bytes);
  }

  public static StoreKey cas(Digest digest) {
    return of(CAS, digest.function(), digest.hash(), new byte[0]);
  }

  public static StoreKey ac(AcKey key) {
    return of(AC, key.function(), key.hash(), key.instance().getBytes(StandardCharsets.UTF_8));
  }

  public static StoreKey wrap(byte[] bytes) {
    return new StoreKey(bytes.clone());
  }

  private static StoreKey of(byte kind, DigestFunction fn, String hex, byte[] suffix) {
    int hashLength = hex.length() / 2;
    var out = new byte[2 + hashLength + suffix.length];
    out[0] = kind;
    out[1] = fn.id();
    Hex.decodeInto(hex, out, 2);
    System.arraycopy(suffix, 0, out, 2 + hashLength, suffix.length);
    return new StoreKey(out);
  }

  public boolean isCas() {
    return bytes[0] == CAS;
  }

  /** The first byte of every action-cache key: they sort together, after no CAS key. */
  public static byte acTag() {
    return AC;
  }

  /** The action-cache key this is, or null for a CAS key. */
  public AcKey toAcKey() {
    if (bytes[0] != AC) {
      return null;
    }
    var fn = function();
    int end = 2 + fn.hashBytes();
    return new AcKey(new String(bytes, end, bytes.length - end, StandardCharsets.UTF_8), fn,
        Hex.encode(Arrays.copyOfRange(bytes, 2, end)));
  }

  /** The digest function named in the key. */
  public DigestFunction function() {
    return DigestFunction.byId(bytes[1]).orElseThrow(
        () -> new IllegalStateException("unknown digest function id " + bytes[1]));
  }

  /** The hash bytes named in the key. */
  public byte[] hashBytes() {
    return Arrays.copyOfRange(bytes, 2, 2 + function().hashBytes());
  }

  /** The key's bytes; callers must not modify them. */
  public byte[] bytes() {
    return bytes;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StoreKey k && k.hash == hash && Arrays.equals(k.bytes, bytes);
  }

  @Override
  public int hashCode() {
    return hash;
  }

  @Override
  public String toString() {
    var fn = DigestFunction.byId(bytes[1]).map(Enum::name).orElse("?");
    return (isCas() ? "cas:" : "ac:") + fn.toLowerCase(java.util.Locale.ROOT) + ":"
        + Hex.encode(Arrays.copyOfRange(bytes, 2, Math.min(bytes.length, 2 + 64)));
  }
}
