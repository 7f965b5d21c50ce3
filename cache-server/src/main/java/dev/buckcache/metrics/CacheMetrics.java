package dev.buckcache.metrics;

import static java.util.Objects.requireNonNull;

import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.TieredStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;

/**
 * buckcache's meters, on one injected registry. Names carry the {@code buckcache} prefix and
 * low-cardinality tags only ({@code protocol}, {@code kind}, {@code method}, {@code result},
 * {@code tier}); never a digest, a subject or a token. The action-cache hit ratio is the number
 * operators watch: it counts a result whose outputs are gone as a miss, as clients see it.
 */
@SuppressWarnings("LongDoubleConversion") // meters take doubles; counts stay below 2^53 (exact)
public final class CacheMetrics {
  static final Set<String> PROTOCOLS = Set.of("http", "grpc");
  static final Set<String> KINDS = Set.of("cas", "ac", "gradle", "turbo", "nx", "other");
  static final Set<String> RESULTS = Set.of("hit", "miss", "ok", "client_error",
      "unauthenticated", "denied", "server_error", "cancelled");
  static final Set<String> HTTP_METHODS = Set.of("GET", "HEAD", "PUT", "POST", "DELETE",
      "OPTIONS", "PATCH", "TRACE", "CONNECT");
  /** The RPCs this server answers (REAPI cache, ByteStream, health, reflection). */
  static final Set<String> GRPC_METHODS = Set.of("GetCapabilities", "FindMissingBlobs",
      "BatchUpdateBlobs", "BatchReadBlobs", "GetTree", "SplitBlob", "SpliceBlob",
      "GetActionResult", "UpdateActionResult", "Read", "Write", "QueryWriteStatus", "Check",
      "Watch", "List", "ServerReflectionInfo", "Execute", "WaitExecution");
  static final Set<String> AUTH_REASONS = authReasons();

  private final MeterRegistry registry;
  private final AccessLog accessLog;
  private volatile dev.buckcache.insight.InvocationLog insight;

  public CacheMetrics(MeterRegistry registry, TieredStore store, ActionResults results) {
    this(registry, store, results, AccessLog.OFF);
  }

  public CacheMetrics(MeterRegistry registry, TieredStore store, ActionResults results,
      AccessLog accessLog) {
    this.registry = requireNonNull(registry, "registry");
    this.accessLog = requireNonNull(accessLog, "accessLog");
    bindStore(store);
    bindActionCache(results);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    bindAllocator(ByteBufAllocator.DEFAULT);
  }

  /**
   * Netty 4.2 serves both front ends from {@code ByteBufAllocator.DEFAULT} (the adaptive
   * allocator; the gRPC server is given it explicitly), so that is the one metered.
   */
  private void bindAllocator(ByteBufAllocator allocator) {
    if (allocator instanceof ByteBufAllocatorMetricProvider metered) {
      new NettyAllocatorMetrics(metered).bindTo(registry);
    }
  }

  private void bindStore(TieredStore store) {
    Gauge.builder("buckcache.store.used", store, s -> s.stats().disk().usedBytes()).baseUnit("bytes")
        .description("bytes stored on disk, RocksDB's own files excluded").register(registry);
    Gauge.builder("buckcache.store.max", store, s -> s.stats().disk().maxBytes()).baseUnit("bytes")
        .description("configured max size (storage.max_size)").register(registry);
    Gauge.builder("buckcache.store.budget", store, s -> s.stats().disk().budgetBytes()).baseUnit("bytes")
        .description("eviction starts here: max size less RocksDB's reserve").register(registry);
    Gauge.builder("buckcache.store.entries", store, s -> s.stats().disk().entries())
        .description("CAS blobs and action-cache entries on disk").register(registry);
    Gauge.builder("buckcache.store.uploading", store, s -> s.stats().disk().uploadingBytes())
        .baseUnit("bytes").description("bytes of uploads in progress").register(registry);
    Gauge.builder("buckcache.store.open.readers", store, TieredStore::openReaders)
        .description("disk readers open now; stays above 0 when idle only if one leaked")
        .register(registry);
    Gauge.builder("buckcache.store.open.writers", store, TieredStore::openWriters)
        .description("uploads writing to disk now; stays above 0 when idle only if one leaked")
        .register(registry);
    Gauge.builder("buckcache.memory.used", store, s -> s.stats().memoryBytes()).baseUnit("bytes")
        .register(registry);
    FunctionCounter.builder("buckcache.evictions", store, s -> s.stats().disk().evictedEntries())
        .description("entries evicted since start").register(registry);
    FunctionCounter.builder("buckcache.evicted", store, s -> s.stats().disk().evictedBytes())
        .baseUnit("bytes").register(registry);
    for (var kind : new String[] {"cas", "ac"}) {
      boolean cas = kind.equals("cas");
      for (var tier : TieredStore.Tier.values()) {
        FunctionCounter.builder("buckcache.store.reads", store, s -> s.reads(cas, tier))
            .tag("kind", kind).tag("tier", tier.name().toLowerCase(Locale.ROOT))
            .description("reads by the tier that served them (miss: none)").register(registry);
      }
    }
    Gauge.builder("buckcache.hit.ratio", store, s -> ratio(
            s.reads(true, TieredStore.Tier.MEMORY) + s.reads(true, TieredStore.Tier.DISK),
            s.reads(true, TieredStore.Tier.MISS)))
        .tag("kind", "cas").description("CAS reads that found their blob, since start").register(registry);
  }

  /**
   * Meters the storage executor's in-flight byte budget ({@code buckcache_inflight_bytes}):
   * request bytes both front ends hold in memory now, under {@code storage.max_inflight_bytes}.
   */
  public void bindExecutor(StorageExecutor executor) {
    Gauge.builder("buckcache.inflight", executor, StorageExecutor::inflightBytes).baseUnit("bytes")
        .description("request bytes held in memory now (claimed from storage.max_inflight_bytes)")
        .register(registry);
    Gauge.builder("buckcache.inflight.max", executor, StorageExecutor::maxInflightBytes)
        .baseUnit("bytes").description("storage.max_inflight_bytes").register(registry);
    FunctionCounter.builder("buckcache.storage.shed", executor, StorageExecutor::shed)
        .description("operations refused (503 / RESOURCE_EXHAUSTED) after waiting too long for "
            + "the storage executor").register(registry);
  }

  private void bindActionCache(ActionResults results) {
    FunctionCounter.builder("buckcache.ac.lookups", results, ActionResults::hits).tag("result", "hit")
        .description("action-cache lookups; a result with missing outputs is a miss").register(registry);
    FunctionCounter.builder("buckcache.ac.lookups", results, ActionResults::misses).tag("result", "miss")
        .register(registry);
    Gauge.builder("buckcache.hit.ratio", results, r -> ratio(r.hits(), r.misses()))
        .tag("kind", "ac").description("action-cache hits / lookups, since start").register(registry);
    for (var cause : dev.buckcache.storage.MissCause.values()) {
      FunctionCounter.builder("buckcache.ac.misses", results, r -> r.misses(cause))
          .tag("cause", cause.label())
          .description("action-cache misses by cause (both protocols)").register(registry);
    }
  }

  /**
   * Per-build statistics: the histogram of finished builds' hit ratios
   * ({@code buckcache_invocation_hit_ratio}) and REAPI lookups by tool ({@code tool} is buck2,
   * bazel, pants or other: a fixed set).
   */
  public void bindInsight(dev.buckcache.insight.InvocationLog log) {
    this.insight = requireNonNull(log, "log");
    var histogram = io.micrometer.core.instrument.DistributionSummary
        .builder("buckcache.invocation.hit.ratio")
        .description("action-cache hit ratio of each finished build (idle 10 min), REAPI clients")
        .serviceLevelObjectives(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
        .register(registry);
    log.onFinished(histogram::record);
    for (var tool : dev.buckcache.insight.RequestInfo.TOOLS) {
      FunctionCounter.builder("buckcache.tool.ac.lookups", log, l -> l.toolLookups(tool)[0])
          .tag("tool", tool).tag("result", "hit")
          .description("REAPI action-cache lookups by client tool").register(registry);
      FunctionCounter.builder("buckcache.tool.ac.lookups", log, l -> l.toolLookups(tool)[1])
          .tag("tool", tool).tag("result", "miss").register(registry);
      Gauge.builder("buckcache.tool.hit.ratio", log, l -> {
        var c = l.toolLookups(tool);
        return ratio(c[0], c[1]);
      }).tag("tool", tool).description("action-cache hits / lookups by client tool, since start")
          .register(registry);
    }
  }

  /** The per-build statistics, or null when none are kept. */
  public dev.buckcache.insight.InvocationLog insight() {
    return insight;
  }

  private static Set<String> authReasons() {
    var reasons = new java.util.HashSet<String>();
    for (var r : dev.buckcache.auth.AuthException.Reason.values()) {
      reasons.add(r.name().toLowerCase(Locale.ROOT));
    }
    return Set.copyOf(reasons);
  }

  private static double ratio(double hits, double misses) {
    return hits + misses == 0 ? 0 : hits / (hits + misses);
  }

  /**
   * One request or RPC finished.
   *
   * @param kind cas, ac, gradle, turbo, nx or other
   * @param result hit, miss, ok, client_error, unauthenticated, denied, server_error, cancelled
   */
  public void request(String protocol, String kind, String method, String result, long nanos,
      long bytesIn, long bytesOut) {
    protocol = known(PROTOCOLS, protocol);
    kind = known(KINDS, kind);
    method = known(protocol.equals("http") ? HTTP_METHODS : GRPC_METHODS, method);
    result = known(RESULTS, result);
    Counter.builder("buckcache.requests").tag("protocol", protocol).tag("kind", kind)
        .tag("method", method).tag("result", result).register(registry).increment();
    Timer.builder("buckcache.request.duration").tag("protocol", protocol).tag("kind", kind)
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofSeconds(30)).register(registry)
        .record(Duration.ofNanos(nanos));
    if (bytesIn > 0) {
      Counter.builder("buckcache.transferred").baseUnit("bytes").tag("protocol", protocol)
          .tag("direction", "in").register(registry).increment(bytesIn);
    }
    if (bytesOut > 0) {
      Counter.builder("buckcache.transferred").baseUnit("bytes").tag("protocol", protocol)
          .tag("direction", "out").register(registry).increment(bytesOut);
    }
  }

  /**
   * The value if it is one of the fixed set, else {@code other}: a tag value never comes from a
   * client (a random HTTP method would otherwise make a new series per request).
   */
  static String known(Set<String> values, String value) {
    return values.contains(value) ? value : "other";
  }

  /** The access log this server writes (possibly off). */
  public AccessLog accessLog() {
    return accessLog;
  }

  public void authFailure(String protocol, String reason) {
    Counter.builder("buckcache.auth.failures").tag("protocol", known(PROTOCOLS, protocol))
        .tag("reason", known(AUTH_REASONS, reason.toLowerCase(Locale.ROOT))).register(registry)
        .increment();
  }

  /** The result tag for an HTTP status. */
  public static String resultOf(int status, String method) {
    if (status == 404) {
      return "miss";
    }
    if (status == 401) {
      return "unauthenticated";
    }
    if (status == 403) {
      return "denied";
    }
    if (status >= 500) {
      return "server_error";
    }
    if (status >= 400) {
      return "client_error";
    }
    return method.equals("GET") || method.equals("HEAD") ? "hit" : "ok";
  }

  /** A gauge whose source lives in a front end (e.g. gRPC uploads parked for resumption). */
  public <T> void gauge(String name, T source, java.util.function.ToDoubleFunction<T> value) {
    Gauge.builder(name, source, value).register(registry);
  }
}
