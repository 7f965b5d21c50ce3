package dev.buckcache.storage;

import dev.buckcache.digest.DigestFunction;
import java.util.List;
import java.util.Optional;

/**
 * What both front ends serve from: the CAS and the action cache, plus the two REST-shaped reads
 * that bazel-remote's paths need. HTTP and gRPC depend on this interface only, never on how the
 * tiers behind it are put together (today {@link TieredStore}: memory over local disk), so a
 * shared tier can be composed in without touching a front end.
 */
public interface CacheStore extends BlobStore, ActionCache {

  /**
   * Opens a blob known only by hash (bazel-remote's HTTP paths carry no size), from offset 0;
   * empty on a miss.
   *
   * @throws dev.buckcache.digest.InvalidDigestException if the hash is malformed
   */
  Optional<BlobReader> openHash(DigestFunction function, String hash);

  /**
   * The blob's bytes if they are in memory now, as {@code copy} makes them from a read-only view
   * that is valid only during the call; else null. Never blocks on I/O, so an event loop may call
   * it; a null says nothing about presence.
   */
  default <T> T peek(DigestFunction function, String hash,
      java.util.function.Function<java.nio.ByteBuffer, T> copy) {
    return null;
  }

  /** {@link #peek(DigestFunction, String, java.util.function.Function)} into a new array. */
  default byte[] peek(DigestFunction function, String hash) {
    return peek(function, hash, view -> {
      var bytes = new byte[view.remaining()];
      view.get(bytes);
      return bytes;
    });
  }

  /**
   * The most an open writer buffers before its bytes leave the heap, for front ends that claim an
   * upload's memory from the in-flight budget.
   */
  int writeBufferBytes();

  /**
   * Removes every action-cache entry whose recorded writer matches (with {@code dryRun}, removes
   * nothing) and returns their keys. Entries stored without a writer never match. CAS blobs are
   * never purged: they are verified against their digest on the way in, so nobody can poison them.
   */
  List<AcKey> purgeActionCache(java.util.function.Predicate<Provenance> match, boolean dryRun);
}
