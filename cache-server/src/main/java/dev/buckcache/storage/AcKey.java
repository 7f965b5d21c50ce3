package dev.buckcache.storage;

import static java.util.Objects.requireNonNull;

import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.Hex;
import dev.buckcache.digest.InvalidDigestException;

/**
 * An action-cache key. The action cache is per instance (unlike CAS content, which is shared), so
 * the instance name is part of the key.
 */
public record AcKey(String instance, DigestFunction function, String hash) {
  public AcKey {
    requireNonNull(instance, "instance");
    requireNonNull(function, "function");
    requireNonNull(hash, "hash");
    if (hash.length() != function.hexLength() || !Hex.isLowerHex(hash)) {
      throw new InvalidDigestException(
          "action key '" + hash + "' is not " + function.hexLength() + " lower-case hex digits");
    }
  }
}
