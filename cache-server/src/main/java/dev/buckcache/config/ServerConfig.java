package dev.buckcache.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Everything {@code buckcache serve} runs with, read once at start and passed down.
 *
 * @param shutdownGrace how long in-flight work may take after SIGTERM (server.shutdown_grace)
 */
public record ServerConfig(StorageConfig storage, Duration shutdownGrace) {
  public ServerConfig {
    requireNonNull(storage, "storage");
    requireNonNull(shutdownGrace, "shutdownGrace");
  }
}
