package dev.buckcache.config;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * The HTTP front end's own settings: {@code http.address}, {@code http.idle_timeout},
 * {@code http.max_connections}.
 */
public record HttpConfig(InetSocketAddress address, Duration idleTimeout, int maxConnections) {
  public HttpConfig {
    requireNonNull(address, "address");
    requireNonNull(idleTimeout, "idleTimeout");
    if (maxConnections < 1) {
      throw new IllegalArgumentException("maxConnections must be at least 1");
    }
  }

  /** On {@code address}, with the settings' defaults: 60 s idle timeout, 4096 connections. */
  public static HttpConfig at(InetSocketAddress address) {
    return new HttpConfig(address, Duration.ofSeconds(60), 4096);
  }
}
