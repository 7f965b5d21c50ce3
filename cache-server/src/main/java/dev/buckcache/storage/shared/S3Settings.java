package dev.buckcache.storage.shared;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.nio.file.Path;

/**
 * Where the shared tier's bucket is and how to use it (the s3.* settings).
 *
 * @param endpoint the S3 API's URL, or null for AWS's own endpoint of {@code region}
 * @param bucket the bucket; every node of one cache names the same one
 * @param region the signing region (us-east-1 for most S3-compatible servers)
 * @param prefix key prefix inside the bucket, empty or ending in {@code /}
 * @param pathStyle bucket in the path rather than the host name (MinIO, s3proxy, Ceph)
 * @param ca extra CA (PEM) to trust for the endpoint's TLS, or null
 * @param maxConnections concurrent requests to the bucket, at most
 * @param retentionDays objects unused this long expire (lifecycle rule); 0 keeps them forever
 * @param durability when a write is acknowledged
 * @param queueMaxItems in {@code async} mode, uploads that may wait at once
 */
public record S3Settings(
    URI endpoint,
    String bucket,
    String region,
    String prefix,
    boolean pathStyle,
    Path ca,
    int maxConnections,
    int retentionDays,
    Durability durability,
    int queueMaxItems) {

  public S3Settings {
    requireNonNull(bucket, "bucket");
    requireNonNull(region, "region");
    requireNonNull(prefix, "prefix");
    requireNonNull(durability, "durability");
    if (!prefix.isEmpty() && !prefix.endsWith("/")) {
      prefix = prefix + "/";
    }
    if (maxConnections < 1) {
      throw new IllegalArgumentException("maxConnections must be at least 1");
    }
  }

  /** When a write is acknowledged. */
  public enum Durability {
    /** Once it is in the bucket: any node can serve what any node acknowledged. */
    SHARED,
    /**
     * Once it is committed locally; a crash-safe queue uploads it soon after. Writes go on while
     * the bucket is down (until the queue is full); a node lost for good loses what it had not
     * uploaded yet.
     */
    ASYNC
  }
}
