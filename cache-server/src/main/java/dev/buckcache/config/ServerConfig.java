package dev.buckcache.config;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Everything {@code buckcache serve} runs with, read once at start and passed down.
 *
 * @param httpAddress where the HTTP cache listens (http.address)
 * @param httpIdleTimeout idle HTTP connections are closed after this (http.idle_timeout)
 * @param httpMaxConnections HTTP connections open at once (http.max_connections)
 * @param grpcAddress where the REAPI gRPC cache listens (grpc.address)
 * @param grpcMaxBatchBytes max_batch_total_size_bytes advertised (grpc.max_batch_size)
 * @param auth how callers authenticate (auth.*)
 * @param tls TLS and mTLS on both ports (tls.*)
 * @param metricsPublic serve /metrics without a token to any address (metrics.public)
 * @param accessLog one log line per request (server.access_log)
 * @param insecureNoAuth serving a non-loopback address without auth was allowed explicitly
 * @param digests what a 64-hex hash means, per instance (digest.*)
 * @param shutdownGrace how long in-flight work may take after SIGTERM (server.shutdown_grace)
 * @param s3 the shared tier's bucket (s3.*), or null for none
 * @param insight how many recent builds are kept, and for how long (insight.*)
 */
public record ServerConfig(
    StorageConfig storage,
    InetSocketAddress httpAddress,
    Duration httpIdleTimeout,
    int httpMaxConnections,
    InetSocketAddress grpcAddress,
    long grpcMaxBatchBytes,
    AuthConfig auth,
    TlsConfig tls,
    boolean metricsPublic,
    boolean accessLog,
    boolean insecureNoAuth,
    DigestConfig digests,
    Duration shutdownGrace,
    dev.buckcache.storage.shared.S3Settings s3,
    dev.buckcache.insight.InvocationLog.Settings insight) {
  public ServerConfig {
    requireNonNull(storage, "storage");
    requireNonNull(httpAddress, "httpAddress");
    requireNonNull(httpIdleTimeout, "httpIdleTimeout");
    requireNonNull(grpcAddress, "grpcAddress");
    requireNonNull(auth, "auth");
    requireNonNull(tls, "tls");
    requireNonNull(digests, "digests");
    requireNonNull(shutdownGrace, "shutdownGrace");
    requireNonNull(insight, "insight");
  }

  /** The HTTP front end's part of the tree. */
  public HttpConfig http() {
    return new HttpConfig(httpAddress, httpIdleTimeout, httpMaxConnections);
  }

  /** The gRPC front end's part of the tree. */
  public GrpcConfig grpc() {
    return new GrpcConfig(grpcAddress, grpcMaxBatchBytes);
  }
}
