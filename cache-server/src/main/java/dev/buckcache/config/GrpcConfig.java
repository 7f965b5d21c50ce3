package dev.buckcache.config;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;

/** The gRPC front end's own settings: {@code grpc.address}, {@code grpc.max_batch_bytes}. */
public record GrpcConfig(InetSocketAddress address, long maxBatchBytes) {
  public GrpcConfig {
    requireNonNull(address, "address");
    if (maxBatchBytes < 1) {
      throw new IllegalArgumentException("maxBatchBytes must be positive");
    }
  }
}
