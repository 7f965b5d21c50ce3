package dev.buckcache.storage;

import dev.buckcache.digest.InvalidDigestException;
import java.util.concurrent.CompletionException;

/**
 * What kind of failure a storage call ended in, independent of protocol: the one classification
 * behind both front ends' status codes (HttpErrors, GrpcErrors), so that a failure means the
 * same to a curl user and to a Buck2 build.
 *
 * <p>The codes differ only where the protocols do. Over the size limit is HTTP 413, and on gRPC
 * INVALID_ARGUMENT, which is what REAPI prescribes for "more than the server supported limit" (a
 * client must not retry it); a full store is 507 and RESOURCE_EXHAUSTED, "insufficient disk quota"
 * in REAPI's words; both retry later.
 */
public enum FailureKind {
  /** The request was wrong: a malformed digest or name, content that does not match its hash. */
  INVALID,
  /** Larger than the server accepts (storage.max_blob_size, the action-cache value limit). */
  TOO_LARGE,
  /** No room on disk now; eviction or an operator makes some. */
  NO_ROOM,
  /** Saturated: the storage queue or the in-flight byte budget is full; retry in a moment. */
  BUSY,
  /**
   * A store this one depends on is out of reach (the shared S3 tier): a write that must reach it
   * before it is acknowledged was not. HTTP 503, gRPC UNAVAILABLE; retry later.
   */
  UNAVAILABLE,
  /** The server failed (I/O error, corruption, a bug); logged in full where it is answered. */
  INTERNAL;

  /** {@code t} without the CompletionException wrappers that futures add. */
  public static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  public static FailureKind of(Throwable t) {
    t = unwrap(t);
    if (t instanceof StorageException.ContentMismatch || t instanceof InvalidDigestException
        || t instanceof IllegalArgumentException) {
      return INVALID;
    }
    if (t instanceof StorageException.TooLarge) {
      return TOO_LARGE;
    }
    if (t instanceof StorageException.StoreFull) {
      return NO_ROOM;
    }
    if (t instanceof StorageException.Busy) {
      return BUSY;
    }
    if (t instanceof StorageException.Unavailable) {
      return UNAVAILABLE;
    }
    return INTERNAL;
  }
}
