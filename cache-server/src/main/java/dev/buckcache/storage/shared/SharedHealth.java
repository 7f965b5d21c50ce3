package dev.buckcache.storage.shared;

import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the bucket is answering, and a breaker that keeps an outage from costing every request
 * its timeouts. After a failure the store is degraded: reads skip the bucket (the local tiers
 * still serve) and writes that need it fail at once with the last reason, except that one call
 * every {@link #RETRY_MILLIS} goes through as a probe. The first success ends the outage, so the
 * node recovers without a restart; a background {@link ObjectStore#probe()} makes sure one is
 * tried even when no request comes.
 */
final class SharedHealth {
  private static final Logger log = LoggerFactory.getLogger(SharedHealth.class);
  static final long RETRY_MILLIS = 1000;

  private final String described;
  private final Clock clock;
  /** Null while healthy; else why and since when the store is degraded. */
  private final AtomicReference<Outage> outage = new AtomicReference<>();
  private final AtomicLong lastTry = new AtomicLong();

  record Outage(String reason, Instant since) {}

  SharedHealth(String described, Clock clock) {
    this.described = described;
    this.clock = clock;
  }

  /** True if a call to the bucket should be made now. */
  boolean tryNow() {
    if (outage.get() == null) {
      return true;
    }
    long now = clock.millis();
    long last = lastTry.get();
    return now - last >= RETRY_MILLIS && lastTry.compareAndSet(last, now);
  }

  void succeeded() {
    var was = outage.getAndSet(null);
    if (was != null) {
      log.info("shared store {} is answering again (degraded since {})", described, was.since());
    }
  }

  void failed(String reason) {
    lastTry.set(clock.millis());
    var now = new Outage(reason, clock.instant());
    var was = outage.getAndUpdate(o -> o == null ? now : new Outage(reason, o.since()));
    if (was == null) {
      log.warn("{}; serving from the local tiers until it answers", reason);
    }
  }

  /** The current outage, or null. */
  Outage outage() {
    return outage.get();
  }

  /** {@code ok}, or {@code degraded: <reason>} (the reason starts with "shared store"). */
  String status() {
    var o = outage.get();
    return o == null ? "ok" : "degraded: " + o.reason() + " (since " + o.since() + ")";
  }
}
