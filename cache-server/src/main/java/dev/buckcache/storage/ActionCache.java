package dev.buckcache.storage;

import java.util.Optional;

/** The action cache: per-instance keys to small values, last write wins. */
public interface ActionCache {
  /** The stored value, without any integrity check (see {@link ActionResults}). */
  Optional<AcEntry> get(AcKey key);

  void put(AcKey key, AcEntry entry);
}
