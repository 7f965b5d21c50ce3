package dev.buckcache.digest;

import java.nio.ByteBuffer;

/** An incremental hash of one blob. Not thread-safe: one writer feeds it. */
public interface Hasher {
  void update(byte[] bytes, int offset, int length);

  void update(ByteBuffer bytes);

  /** Finishes the hash; the hasher must not be used afterwards. */
  byte[] finish();
}
