package dev.buckcache.metrics;

import dev.buckcache.storage.shared.BackendMeter;
import dev.buckcache.storage.shared.SharedTier;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The shared tier's backend meters: {@code buckcache_s3_requests_seconds{op,outcome}} (count,
 * latency histogram), {@code buckcache_s3_bytes_total{direction}} and {@code
 * buckcache_s3_healthy}. Operations and outcomes are a small fixed set named by the tier.
 */
public final class SharedStoreMeter implements BackendMeter {
  private final MeterRegistry registry;
  private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();
  private final Counter up;
  private final Counter down;

  public SharedStoreMeter(MeterRegistry registry) {
    this.registry = registry;
    this.up = bytesCounter("up");
    this.down = bytesCounter("down");
  }

  private Counter bytesCounter(String direction) {
    return Counter.builder("buckcache.s3.bytes").baseUnit("bytes").tag("direction", direction)
        .description("payload bytes to (up) and from (down) the shared store").register(registry);
  }

  /**
   * The tier's state: {@code buckcache_s3_healthy} (1 while the bucket answers) and, for async
   * durability, the upload queue (items and blob bytes waiting, items given up on).
   */
  public void bind(SharedTier tier) {
    Gauge.builder("buckcache.s3.healthy", tier, t -> t.healthy() ? 1 : 0)
        .description("1 while the shared store answers, 0 while this node serves from its "
            + "local tiers only").register(registry);
    Gauge.builder("buckcache.s3.queue.items", tier, SharedTier::queued)
        .description("async uploads waiting for the shared store").register(registry);
    Gauge.builder("buckcache.s3.queue", tier, t -> (double) t.queuedBytes()).baseUnit("bytes")
        .description("blob bytes waiting for the shared store (async)").register(registry);
    FunctionCounter.builder("buckcache.s3.queue.dropped", tier, t -> (double) t.queueDropped())
        .description("async uploads given up on: the blob left the local store first")
        .register(registry);
  }

  @Override
  public void record(String op, String outcome, long nanos, long bytes) {
    timers.computeIfAbsent(op + '\0' + outcome, k -> Timer.builder("buckcache.s3.requests")
            .tag("op", op).tag("outcome", outcome)
            .description("requests to the shared store by operation and outcome")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(60))
            .register(registry))
        .record(Duration.ofNanos(nanos));
  }

  @Override
  public void bytes(String direction, long bytes) {
    ("up".equals(direction) ? up : down).increment((double) bytes);
  }
}
