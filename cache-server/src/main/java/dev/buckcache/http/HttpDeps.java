package dev.buckcache.http;

import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.CacheStore;
import java.util.function.Supplier;

/**
 * What every HTTP exchange uses.
 *
 * @param maxAcSize largest action-cache value accepted over HTTP (aggregated in memory)
 * @param callers who is calling (token, client certificate, auth.anonymous), shared with gRPC
 * @param status renders {@code /status}
 * @param audit where purges are recorded (null: purge is not offered)
 */
record HttpDeps(
    CacheStore store,
    ActionResults results,
    StorageExecutor executor,
    long maxBlobSize,
    long maxAcSize,
    dev.buckcache.config.DigestConfig digests,
    dev.buckcache.auth.CallerResolver callers,
    boolean strictReadScope,
    Supplier<String> status,
    dev.buckcache.metrics.CacheMetrics metrics,
    Supplier<String> metricsText,
    boolean metricsPublic,
    Supplier<String> statusPage,
    dev.buckcache.insight.AuditLog audit) {}
