package dev.buckcache.storage.shared;

import dev.buckcache.storage.StorageException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortIncompleteMultipartUpload;
import software.amazon.awssdk.services.s3.model.BucketLifecycleConfiguration;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.ExpirationStatus;
import software.amazon.awssdk.services.s3.model.LifecycleExpiration;
import software.amazon.awssdk.services.s3.model.LifecycleRule;
import software.amazon.awssdk.services.s3.model.LifecycleRuleFilter;
import software.amazon.awssdk.services.s3.model.MetadataDirective;

/*
 * Design notes
 *
 * Client: the AWS SDK for Java v2, synchronous, over its Apache HttpClient 5 transport. The SDK's
 * async transport (netty-nio-client) would bring a second Netty (4.1) beside grpc-netty's 4.2;
 * the CRT client is a native library. The sync client runs on the storage executor's threads,
 * which are already the place where blocking store work happens, and the connection pool is the
 * concurrency cap (s3.max_connections).
 *
 * Compatibility: checksums are sent and checked only where the S3 API requires them. The SDK's
 * newer default (a trailing CRC32 on every upload, aws-chunked encoding) is not understood by
 * several S3-compatible servers, and every blob is verified against its digest anyway.
 *
 * Timeouts: connecting gets 3 s and a stalled socket 30 s; small requests (HEAD, AC objects,
 * copies) must finish in 15 s all retries included, so an unreachable store costs a request
 * seconds, not minutes. Streaming requests are bounded by the socket timeout, not by a total.
 */

/** An {@link ObjectStore} over an S3-compatible bucket. */
public final class S3ObjectStore implements ObjectStore {
  /** Objects up to this size go up in one PUT; larger ones in parts of {@link #PART_SIZE}. */
  static final long MULTIPART_THRESHOLD = 64L << 20;

  static final long PART_SIZE = 16L << 20;

  private static final Duration SMALL_CALL = Duration.ofSeconds(15);

  private final S3Client s3;
  private final String bucket;
  private final String described;
  private final BackendMeter meter;

  /**
   * @param settings where the bucket is and how to reach it
   * @param meter told of every request: operation, outcome, time, bytes
   */
  public S3ObjectStore(S3Settings settings, BackendMeter meter) {
    this.bucket = settings.bucket();
    this.meter = meter;
    this.described = "s3://" + settings.bucket() + "/" + settings.prefix()
        + (settings.endpoint() == null ? " in " + settings.region() : " at " + settings.endpoint());
    var http = Apache5HttpClient.builder()
        .maxConnections(settings.maxConnections())
        .connectionTimeout(Duration.ofSeconds(3))
        .connectionAcquisitionTimeout(Duration.ofSeconds(10))
        .socketTimeout(Duration.ofSeconds(30))
        .tcpKeepAlive(true);
    if (settings.ca() != null) {
      var trust = trustManagers(settings.ca());
      http.tlsTrustManagersProvider(() -> trust);
    }
    var builder = S3Client.builder()
        .httpClient(http.build())
        .region(Region.of(settings.region()))
        .forcePathStyle(settings.pathStyle())
        .credentialsProvider(DefaultCredentialsProvider.builder().build())
        .requestChecksumCalculation(
            software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(
            software.amazon.awssdk.core.checksums.ResponseChecksumValidation.WHEN_REQUIRED);
    if (settings.endpoint() != null) {
      builder.endpointOverride(settings.endpoint());
    }
    this.s3 = builder.build();
  }

  private static TrustManager[] trustManagers(Path ca) {
    try (var in = Files.newInputStream(ca)) {
      var certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (certs.isEmpty()) {
        throw new IllegalArgumentException("no certificate in " + ca);
      }
      var store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (var cert : certs) {
        store.setCertificateEntry("ca-" + i++, cert);
      }
      var factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(store);
      return factory.getTrustManagers();
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot read the S3 CA " + ca + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Info head(String key) {
    long start = System.nanoTime();
    try {
      var r = s3.headObject(b -> b.bucket(bucket).key(key)
          .overrideConfiguration(o -> o.apiCallTimeout(SMALL_CALL)));
      meter.record("head", "ok", System.nanoTime() - start, 0);
      return new Info(r.contentLength(), r.lastModified(), r.metadata());
    } catch (SdkException e) {
      if (absent(e)) {
        meter.record("head", "absent", System.nanoTime() - start, 0);
        return null;
      }
      throw failed("head", key, e, start);
    }
  }

  @Override
  public Opened get(String key, long offset) {
    long start = System.nanoTime();
    try {
      var request = software.amazon.awssdk.services.s3.model.GetObjectRequest.builder()
          .bucket(bucket).key(key);
      if (offset > 0) {
        request.range("bytes=" + offset + "-");
      }
      var response = s3.getObject(request.build(), ResponseTransformer.toInputStream());
      var r = response.response();
      long size = offset > 0 ? totalFromRange(r.contentRange(), offset + r.contentLength())
          : r.contentLength();
      meter.record("get", "ok", System.nanoTime() - start, 0);
      var info = new Info(size, r.lastModified(), r.metadata());
      return new Opened(info, new CountingStream(response, n -> meter.bytes("down", n)));
    } catch (SdkException e) {
      if (absent(e)) {
        meter.record("get", "absent", System.nanoTime() - start, 0);
        return null;
      }
      throw failed("get", key, e, start);
    }
  }

  /** The total size from a Content-Range header {@code bytes a-b/total}. */
  private static long totalFromRange(String contentRange, long fallback) {
    if (contentRange != null) {
      int slash = contentRange.lastIndexOf('/');
      if (slash > 0 && !contentRange.endsWith("*")) {
        return Long.parseLong(contentRange.substring(slash + 1).trim());
      }
    }
    return fallback;
  }

  @Override
  public void put(String key, byte[] value, Map<String, String> metadata) {
    long start = System.nanoTime();
    try {
      s3.putObject(b -> b.bucket(bucket).key(key).contentLength((long) value.length)
              .metadata(metadata).overrideConfiguration(o -> o.apiCallTimeout(SMALL_CALL)),
          RequestBody.fromBytes(value));
      meter.record("put", "ok", System.nanoTime() - start, value.length);
    } catch (SdkException e) {
      throw failed("put", key, e, start);
    }
  }

  @Override
  public void put(String key, long length, Source source, Map<String, String> metadata) {
    if (length <= MULTIPART_THRESHOLD) {
      long start = System.nanoTime();
      try {
        s3.putObject(b -> b.bucket(bucket).key(key).contentLength(length).metadata(metadata),
            RequestBody.fromContentProvider(provider(source, 0, length), length,
                "application/octet-stream"));
        meter.record("put", "ok", System.nanoTime() - start, length);
      } catch (SdkException e) {
        throw failed("put", key, e, start);
      }
      return;
    }
    putMultipart(key, length, source, metadata);
  }

  private void putMultipart(String key, long length, Source source, Map<String, String> metadata) {
    long start = System.nanoTime();
    String uploadId;
    try {
      uploadId = s3.createMultipartUpload(b -> b.bucket(bucket).key(key).metadata(metadata))
          .uploadId();
      meter.record("multipart_create", "ok", System.nanoTime() - start, 0);
    } catch (SdkException e) {
      throw failed("multipart_create", key, e, start);
    }
    var parts = new ArrayList<CompletedPart>();
    try {
      int number = 1;
      for (long offset = 0; offset < length; offset += PART_SIZE, number++) {
        long partLength = Math.min(PART_SIZE, length - offset);
        int partNumber = number;
        long partStart = System.nanoTime();
        try {
          var etag = s3.uploadPart(b -> b.bucket(bucket).key(key).uploadId(uploadId)
                  .partNumber(partNumber).contentLength(partLength),
              RequestBody.fromContentProvider(provider(source, offset, partLength), partLength,
                  "application/octet-stream")).eTag();
          meter.record("multipart_part", "ok", System.nanoTime() - partStart, partLength);
          parts.add(CompletedPart.builder().partNumber(partNumber).eTag(etag).build());
        } catch (SdkException e) {
          throw failed("multipart_part", key, e, partStart);
        }
      }
      long completeStart = System.nanoTime();
      try {
        s3.completeMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId)
            .multipartUpload(m -> m.parts(parts)));
        meter.record("multipart_complete", "ok", System.nanoTime() - completeStart, 0);
      } catch (SdkException e) {
        throw failed("multipart_complete", key, e, completeStart);
      }
    } catch (RuntimeException e) {
      try {
        s3.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId));
      } catch (SdkException ignored) {
        // The bucket's lifecycle rule aborts incomplete uploads after a day.
      }
      throw e;
    }
  }

  /** Bytes [offset, offset+length) of the source, opened afresh for each attempt. */
  private ContentStreamProvider provider(Source source, long offset, long length) {
    return () -> {
      try {
        return new CountingStream(new BoundedStream(source.open(offset), length),
            n -> meter.bytes("up", n));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
  }

  @Override
  public void delete(String key) {
    long start = System.nanoTime();
    try {
      s3.deleteObject(b -> b.bucket(bucket).key(key)
          .overrideConfiguration(o -> o.apiCallTimeout(SMALL_CALL)));
      meter.record("delete", "ok", System.nanoTime() - start, 0);
    } catch (SdkException e) {
      if (absent(e)) {
        meter.record("delete", "absent", System.nanoTime() - start, 0);
        return;
      }
      throw failed("delete", key, e, start);
    }
  }

  @Override
  public void refresh(String key, Map<String, String> metadata) {
    long start = System.nanoTime();
    var meta = new HashMap<>(metadata);
    meta.put("refreshed", java.time.Instant.now().toString());
    try {
      s3.copyObject(b -> b.sourceBucket(bucket).sourceKey(key).destinationBucket(bucket)
          .destinationKey(key).metadataDirective(MetadataDirective.REPLACE).metadata(meta)
          .overrideConfiguration(o -> o.apiCallTimeout(Duration.ofSeconds(60))));
      meter.record("copy", "ok", System.nanoTime() - start, 0);
    } catch (SdkException e) {
      if (absent(e)) {
        meter.record("copy", "absent", System.nanoTime() - start, 0);
        return;
      }
      throw failed("copy", key, e, start);
    }
  }

  @Override
  public void probe() {
    long start = System.nanoTime();
    try {
      s3.headBucket(b -> b.bucket(bucket).overrideConfiguration(o -> o.apiCallTimeout(SMALL_CALL)));
      meter.record("probe", "ok", System.nanoTime() - start, 0);
    } catch (SdkException e) {
      throw failed("probe", "", e, start);
    }
  }

  /** The lifecycle rule for {@code prefix}: expire after {@code days}, abort stale uploads. */
  public static LifecycleRule retentionRule(String prefix, int days) {
    return LifecycleRule.builder()
        .id("buckcache-retention")
        .filter(LifecycleRuleFilter.builder().prefix(prefix).build())
        .status(ExpirationStatus.ENABLED)
        .expiration(LifecycleExpiration.builder().days(days).build())
        .abortIncompleteMultipartUpload(
            AbortIncompleteMultipartUpload.builder().daysAfterInitiation(1).build())
        .build();
  }

  /**
   * Sets the bucket's lifecycle to {@code rule}, keeping the bucket's other rules (a rule with
   * the same id is replaced).
   */
  public void applyLifecycle(LifecycleRule rule) {
    long start = System.nanoTime();
    try {
      var rules = new ArrayList<LifecycleRule>();
      try {
        for (var r : s3.getBucketLifecycleConfiguration(b -> b.bucket(bucket)).rules()) {
          if (!rule.id().equals(r.id())) {
            rules.add(r);
          }
        }
      } catch (AwsServiceException e) {
        if (e.statusCode() != 404) {
          throw e;
        }
      }
      rules.add(rule);
      s3.putBucketLifecycleConfiguration(b -> b.bucket(bucket)
          .lifecycleConfiguration(BucketLifecycleConfiguration.builder().rules(rules).build()));
      meter.record("lifecycle", "ok", System.nanoTime() - start, 0);
    } catch (SdkException e) {
      throw failed("lifecycle", "", e, start);
    }
  }

  private static boolean absent(SdkException e) {
    return e instanceof AwsServiceException ase && ase.statusCode() == 404
        && !"NoSuchBucket".equals(ase.awsErrorDetails() == null ? null
            : ase.awsErrorDetails().errorCode());
  }

  private StorageException.Unavailable failed(String op, String key, SdkException e, long start) {
    meter.record(op, "error", System.nanoTime() - start, 0);
    return new StorageException.Unavailable("shared store " + described + ": " + op
        + (key.isEmpty() ? "" : " " + key) + " failed: " + reason(e), e);
  }

  /** One line about what went wrong, from the SDK's exception, without request ids or secrets. */
  static String reason(SdkException e) {
    if (e instanceof AwsServiceException ase) {
      var details = ase.awsErrorDetails();
      var code = details == null ? null : details.errorCode();
      var hint = switch (ase.statusCode()) {
        case 403 -> " (access denied: check the credentials and the bucket policy)";
        case 503 -> " (throttled or unavailable)";
        default -> "";
      };
      return "HTTP " + ase.statusCode() + (code == null ? "" : " " + code) + hint;
    }
    if (e instanceof SdkClientException && e.getMessage() != null
        && e.getMessage().startsWith("Unable to load credentials")) {
      return "no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
          + "AWS_PROFILE, or give the node a role (web identity, container or instance metadata)";
    }
    if (e instanceof SdkClientException) {
      var cause = e.getCause();
      while (cause != null && cause.getCause() != null && cause.getCause() != cause) {
        cause = cause.getCause();
      }
      var m = cause != null && cause.getMessage() != null ? cause.getMessage() : e.getMessage();
      return "unreachable: " + (m == null ? e.getClass().getSimpleName()
          : m.lines().findFirst().orElse(""));
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  @Override
  public String describe() {
    return described;
  }

  @Override
  public void close() {
    s3.close();
  }

  /** At most {@code length} bytes of the stream underneath. */
  private static final class BoundedStream extends InputStream {
    private final InputStream in;
    private long left;

    BoundedStream(InputStream in, long length) {
      this.in = in;
      this.left = length;
    }

    @Override
    public int read() throws IOException {
      if (left <= 0) {
        return -1;
      }
      int b = in.read();
      if (b >= 0) {
        left--;
      }
      return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      if (left <= 0) {
        return -1;
      }
      int n = in.read(buf, off, (int) Math.min(len, left));
      if (n > 0) {
        left -= n;
      }
      return n;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }

  /** Tells the meter how many bytes passed, as they pass. */
  private static final class CountingStream extends InputStream {
    private final InputStream in;
    private final java.util.function.LongConsumer counted;

    CountingStream(InputStream in, java.util.function.LongConsumer counted) {
      this.in = in;
      this.counted = counted;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        counted.accept(1);
      }
      return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = in.read(buf, off, len);
      if (n > 0) {
        counted.accept(n);
      }
      return n;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
