package dev.buckcache.http;

import dev.buckcache.storage.StorageExecutor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Room for one request body, or a response read from disk, claimed from the in-flight byte budget
 * ({@code storage.max_inflight_bytes}), returned exactly once however the exchange ends: stored,
 * sent, refused, failed, or the connection closed. {@link #release} may run on any thread, any number
 * of times.
 */
final class BodyClaim {
  static final BodyClaim NONE = new BodyClaim(null, 0);

  private final StorageExecutor executor;
  private final long bytes;
  private final AtomicBoolean released = new AtomicBoolean();

  private BodyClaim(StorageExecutor executor, long bytes) {
    this.executor = executor;
    this.bytes = bytes;
  }

  /** Claims {@code bytes}; null when they do not fit (answer 503). Zero bytes claim nothing. */
  static BodyClaim tryClaim(StorageExecutor executor, long bytes) {
    if (bytes == 0) {
      return NONE;
    }
    return executor.tryAcquireBytes(bytes) ? new BodyClaim(executor, bytes) : null;
  }

  void release() {
    if (executor != null && released.compareAndSet(false, true)) {
      executor.releaseBytes(bytes);
    }
  }
}
