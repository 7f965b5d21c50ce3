package dev.buckcache.config;

import dev.buckcache.storage.disk.DiskSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Builds a {@link ServerConfig} from, in rising precedence: defaults, a YAML file, {@code
 * BUCKCACHE_*} environment variables, command-line flags. Each setting has one YAML key (dotted),
 * one env var and one flag; every error names the key and where the value came from.
 */
public final class ConfigLoader {

  /** One setting: its YAML key, env var, flag, default and help. A "true|false" one is a switch. */
  public record Setting(
      String key, String env, String flag, String paramLabel, String defaultValue, String help) {
    public boolean isSwitch() {
      return paramLabel.equals("true|false");
    }
  }

  public static final Setting DIR = new Setting("storage.dir", "BUCKCACHE_DIR", "--dir", "DIR",
      "./buckcache-data", "data directory");
  public static final Setting MAX_SIZE = new Setting("storage.max_size", "BUCKCACHE_MAX_SIZE",
      "--max-size", "SIZE", "10GB", "disk budget, RocksDB's files included");
  public static final Setting CLEANUP = new Setting("storage.cleanup_threshold",
      "BUCKCACHE_CLEANUP_THRESHOLD", "--cleanup-threshold", "FRACTION", "0.8",
      "eviction frees down to this fraction of the budget (above 0.5, below 1)");
  public static final Setting MEMORY_SIZE = new Setting("storage.memory_size",
      "BUCKCACHE_MEMORY_SIZE", "--memory-size", "SIZE", "512MB",
      "off-heap memory tier for small blobs, 0 = off; the default shrinks with little direct memory");
  public static final Setting MEMORY_LIMIT = new Setting("server.memory_limit",
      "BUCKCACHE_MEMORY_LIMIT", "--memory-limit", "SIZE", "off",
      "one limit for the process (heap, direct buffers, RocksDB); ./buckcache and the image size"
          + " the JVM from it");
  public static final Setting COMPRESSION = new Setting("storage.compression",
      "BUCKCACHE_COMPRESSION", "--compression", "zstd|none", "zstd", "disk encoding");
  public static final Setting ZSTD_LEVEL = new Setting("storage.zstd_level",
      "BUCKCACHE_ZSTD_LEVEL", "--zstd-level", "N", "1", "zstd level, 1 (fast) to 19 (small)");
  public static final Setting MAX_BLOB_SIZE = new Setting("storage.max_blob_size",
      "BUCKCACHE_MAX_BLOB_SIZE", "--max-blob-size", "SIZE", "64GiB", "largest blob accepted");
  public static final Setting MAX_INFLIGHT = new Setting("storage.max_inflight_bytes",
      "BUCKCACHE_MAX_INFLIGHT_BYTES", "--max-inflight-bytes", "SIZE", "auto",
      "request bytes held in memory at once, HTTP and gRPC together; auto = a quarter of the heap");
  public static final Setting SHUTDOWN_GRACE = new Setting("server.shutdown_grace",
      "BUCKCACHE_SHUTDOWN_GRACE", "--shutdown-grace", "DURATION", "30s",
      "time in-flight work gets after SIGTERM");

  public static final Setting HTTP_ADDRESS = new Setting("http.address",
      "BUCKCACHE_HTTP_ADDRESS", "--http-address", "HOST:PORT", "127.0.0.1:8080",
      "where the HTTP cache listens (port 0: any free port)");
  public static final Setting HTTP_IDLE_TIMEOUT = new Setting("http.idle_timeout",
      "BUCKCACHE_HTTP_IDLE_TIMEOUT", "--http-idle-timeout", "DURATION", "60s",
      "close HTTP connections idle this long, or whose request head takes longer");
  public static final Setting HTTP_MAX_CONNECTIONS = new Setting("http.max_connections",
      "BUCKCACHE_HTTP_MAX_CONNECTIONS", "--http-max-connections", "N", "4096",
      "HTTP connections open at once; more are closed as they arrive");
  public static final Setting INSECURE_NO_AUTH = new Setting("server.insecure_no_auth",
      "BUCKCACHE_INSECURE_NO_AUTH", "--insecure-no-auth", "true|false", "false",
      "allow serving a non-loopback address without authentication");

  public static final Setting GRPC_ADDRESS = new Setting("grpc.address",
      "BUCKCACHE_GRPC_ADDRESS", "--grpc-address", "HOST:PORT", "127.0.0.1:9092",
      "where the REAPI gRPC cache listens (port 0: any free port)");
  public static final Setting GRPC_MAX_BATCH = new Setting("grpc.max_batch_size",
      "BUCKCACHE_GRPC_MAX_BATCH_SIZE", "--grpc-max-batch-size", "BYTES", "4000000",
      "max_batch_total_size_bytes advertised to clients");
  public static final Setting AUTH_MODE = new Setting("auth.mode", "BUCKCACHE_AUTH",
      "--auth", "none|jwt|static", "none",
      "how callers authenticate (AUTH_TOKEN set: static)");
  public static final Setting JWT_KEYS = new Setting("auth.jwt_public_keys",
      "BUCKCACHE_JWT_PUBLIC_KEYS", "--jwt-public-key", "PEM", "",
      "JWT verification key (ES256/RS256); repeat to rotate");
  public static final Setting JWT_HMAC = new Setting("auth.jwt_hmac_secret_file",
      "BUCKCACHE_JWT_HMAC_SECRET_FILE", "--jwt-hmac-secret-file", "FILE", "",
      "HS256 secret (32+ bytes) for JWTs");
  public static final Setting JWT_AUDIENCE = new Setting("auth.audience", "BUCKCACHE_AUDIENCE",
      "--audience", "AUD", "", "required JWT aud claim");
  public static final Setting JWT_ISSUER = new Setting("auth.issuer", "BUCKCACHE_ISSUER",
      "--issuer", "ISS", "", "required JWT iss claim");
  public static final Setting REVOCATION_FILE = new Setting("auth.revocation_file",
      "BUCKCACHE_REVOCATION_FILE", "--revocation-file", "FILE", "",
      "revoked token ids/subjects (buckcache token revoke), reloaded on change");
  public static final Setting STATIC_TOKEN_FILE = new Setting("auth.static_token_file",
      "BUCKCACHE_STATIC_TOKEN_FILE", "--static-token-file", "FILE", "",
      "lines: TOKEN SUBJECT read|write|admin [INSTANCE,...]");
  public static final Setting ANONYMOUS = new Setting("auth.anonymous", "BUCKCACHE_ANONYMOUS",
      "--anonymous", "deny|read|miss", "deny",
      "callers without a usable token: deny (401), read (no token: may read), miss (no, expired "
          + "or bad token: an empty read-only cache, so builds fall back to local work)");
  public static final Setting ANONYMOUS_READS = new Setting("auth.allow_anonymous_reads",
      "BUCKCACHE_ALLOW_ANONYMOUS_READS", "--allow-anonymous-reads", "true|false", "false",
      "older alias of --anonymous read");
  public static final Setting STRICT_READ = new Setting("auth.strict_read_scope",
      "BUCKCACHE_STRICT_READ_SCOPE", "--strict-read-scope", "true|false", "false",
      "read tokens may not upload CAS blobs either");
  public static final Setting TLS_CERT = new Setting("tls.cert", "BUCKCACHE_TLS_CERT",
      "--tls-cert", "PEM", "", "TLS certificate chain for both ports");
  public static final Setting TLS_KEY = new Setting("tls.key", "BUCKCACHE_TLS_KEY",
      "--tls-key", "PEM", "", "TLS private key");
  public static final Setting TLS_CLIENT_CA = new Setting("tls.client_ca",
      "BUCKCACHE_TLS_CLIENT_CA", "--tls-client-ca", "PEM", "",
      "require client certificates signed by this CA (mTLS)");
  public static final Setting TLS_CLIENT_SCOPE = new Setting("tls.client_scope",
      "BUCKCACHE_TLS_CLIENT_SCOPE", "--tls-client-scope", "read|write|admin", "read",
      "scope of mTLS clients that send no token");
  public static final Setting TLS_RELOAD = new Setting("tls.reload_interval",
      "BUCKCACHE_TLS_RELOAD_INTERVAL", "--tls-reload-interval", "DURATION", "10s",
      "how often changed TLS files are picked up");
  public static final Setting METRICS_PUBLIC = new Setting("metrics.public",
      "BUCKCACHE_METRICS_PUBLIC", "--metrics-public", "true|false", "false",
      "serve /metrics without a token to any address (default: loopback only)");
  public static final Setting ACCESS_LOG = new Setting("server.access_log",
      "BUCKCACHE_ACCESS_LOG", "--access-log", "true|false", "false",
      "one log line per request (logger buckcache.access)");
  public static final Setting INSIGHT_MAX_BUILDS = new Setting("insight.max_builds",
      "BUCKCACHE_INSIGHT_MAX_BUILDS", "--insight-max-builds", "N", "10000",
      "recent builds kept for /api/invocations (about 1 KB each)");
  public static final Setting INSIGHT_RETENTION = new Setting("insight.retention",
      "BUCKCACHE_INSIGHT_RETENTION", "--insight-retention", "DURATION", "7d",
      "and none last seen longer ago than this");
  public static final Setting DIGEST_DEFAULT = new Setting("digest.default",
      "BUCKCACHE_DIGEST_DEFAULT", "--digest-default", "FUNCTION", "sha256",
      "what a 64-hex hash means: sha256 or blake3");
  public static final Setting DIGEST_INSTANCES = new Setting("digest.instances",
      "BUCKCACHE_DIGEST_INSTANCES", "--digest-instances", "NAME=FUNCTION,...", "",
      "per-instance override of digest.default, e.g. buck2=blake3");

  public static final Setting S3_BUCKET = new Setting("s3.bucket", "BUCKCACHE_S3_BUCKET",
      "--s3-bucket", "NAME", "",
      "shared tier: the S3 bucket every node of this cache uses (empty: no shared tier)");
  public static final Setting S3_ENDPOINT = new Setting("s3.endpoint", "BUCKCACHE_S3_ENDPOINT",
      "--s3-endpoint", "URL", "",
      "S3 API URL, e.g. http://minio:9000 (empty: AWS's endpoint for s3.region)");
  public static final Setting S3_REGION = new Setting("s3.region", "BUCKCACHE_S3_REGION",
      "--s3-region", "REGION", "us-east-1", "the bucket's region (signing region)");
  public static final Setting S3_PREFIX = new Setting("s3.prefix", "BUCKCACHE_S3_PREFIX",
      "--s3-prefix", "PREFIX", "", "key prefix inside the bucket");
  public static final Setting S3_PATH_STYLE = new Setting("s3.path_style",
      "BUCKCACHE_S3_PATH_STYLE", "--s3-path-style", "true|false", "false",
      "bucket in the URL path, not the host name (MinIO, Ceph, s3proxy)");
  public static final Setting S3_CA = new Setting("s3.ca", "BUCKCACHE_S3_CA", "--s3-ca", "PEM",
      "", "extra CA certificate to trust for the S3 endpoint's TLS");
  public static final Setting S3_MAX_CONNECTIONS = new Setting("s3.max_connections",
      "BUCKCACHE_S3_MAX_CONNECTIONS", "--s3-max-connections", "N", "64",
      "requests to the bucket at once, at most");
  public static final Setting S3_RETENTION = new Setting("s3.retention_days",
      "BUCKCACHE_S3_RETENTION_DAYS", "--s3-retention", "DAYS", "30",
      "bucket objects unused this long expire (set the rule with buckcache s3 lifecycle --apply); "
          + "objects in use are refreshed; 0: keep forever");

  public static final Setting S3_DURABILITY = new Setting("s3.durability",
      "BUCKCACHE_S3_DURABILITY", "--s3-durability", "shared|async", "shared",
      "shared: a write is acknowledged once in the bucket; async: once committed locally, then "
          + "uploaded by a crash-safe queue (writes go on while the bucket is down)");
  public static final Setting S3_QUEUE_MAX = new Setting("s3.async_queue_max",
      "BUCKCACHE_S3_ASYNC_QUEUE_MAX", "--s3-async-queue-max", "N", "10000",
      "async: uploads that may wait at once (and at most a quarter of max_size of blob bytes); "
          + "beyond that, writes get 503 / UNAVAILABLE");

  public static final List<Setting> ALL = List.of(DIR, MAX_SIZE, CLEANUP, MEMORY_SIZE, MEMORY_LIMIT,
      COMPRESSION, ZSTD_LEVEL, MAX_BLOB_SIZE, MAX_INFLIGHT, HTTP_ADDRESS, HTTP_IDLE_TIMEOUT, HTTP_MAX_CONNECTIONS, GRPC_ADDRESS,
      GRPC_MAX_BATCH, AUTH_MODE, JWT_KEYS, JWT_HMAC, JWT_AUDIENCE, JWT_ISSUER, REVOCATION_FILE,
      STATIC_TOKEN_FILE, ANONYMOUS, ANONYMOUS_READS, STRICT_READ, TLS_CERT, TLS_KEY, TLS_CLIENT_CA,
      TLS_CLIENT_SCOPE, TLS_RELOAD, METRICS_PUBLIC, ACCESS_LOG, INSIGHT_MAX_BUILDS, INSIGHT_RETENTION,
      INSECURE_NO_AUTH, DIGEST_DEFAULT,
      DIGEST_INSTANCES, SHUTDOWN_GRACE, S3_BUCKET, S3_ENDPOINT, S3_REGION, S3_PREFIX,
      S3_PATH_STYLE, S3_CA, S3_MAX_CONNECTIONS, S3_RETENTION, S3_DURABILITY, S3_QUEUE_MAX);

  private final Map<String, String> env;
  private final long maxHeap;
  private final long maxDirect;

  /**
   * @param env the process environment (injected for tests)
   * @param maxHeap the JVM's max heap, which bounds the requests in flight
   * @param maxDirect the JVM's max direct memory, which bounds the memory tier
   */
  public ConfigLoader(Map<String, String> env, long maxHeap, long maxDirect) {
    this.env = env;
    this.maxHeap = maxHeap;
    this.maxDirect = maxDirect;
  }

  /** For a JVM that allows as much direct memory as heap (the JVM's default). */
  public ConfigLoader(Map<String, String> env, long maxHeap) {
    this(env, maxHeap, maxHeap);
  }

  /**
   * Reads the settings: YAML file, then BUCKCACHE_* env, then flags; each later one wins.
   *
   * @param file YAML config file, or null
   * @param flags values given on the command line, by setting key
   */
  public ServerConfig load(Path file, Map<String, String> flags) {
    return build(merge(file, flags));
  }

  /**
   * Only the shared-store settings, from the same sources, for commands that talk to the bucket
   * and serve nothing (so listen addresses and auth are not checked); null without a bucket.
   */
  public dev.buckcache.storage.shared.S3Settings loadS3(Path file, Map<String, String> flags) {
    return s3Settings(merge(file, flags));
  }

  private Map<String, Sourced> merge(Path file, Map<String, String> flags) {
    var values = new LinkedHashMap<String, Sourced>();
    ALL.forEach(s -> values.put(s.key(), new Sourced(s.defaultValue(), "default")));
    if (file != null) {
      readYaml(file).forEach((k, v) -> values.put(k, new Sourced(v, "config file " + file)));
    }
    for (var s : ALL) {
      var v = env.get(s.env());
      if (v != null && !v.isBlank()) {
        values.put(s.key(), new Sourced(v, "env " + s.env()));
      }
    }
    flags.forEach((k, v) -> values.put(k, new Sourced(v, "flag " + flagOf(k))));
    return values;
  }

  private record Sourced(String value, String source) {}

  private ServerConfig build(Map<String, Sourced> values) {
    long maxSize = get(values, MAX_SIZE, Sizes::parse);
    check(maxSize >= DiskSettings.MIN_MAX_SIZE, values, MAX_SIZE, "must be at least 32MiB");
    double cleanup = get(values, CLEANUP, Double::parseDouble);
    check(DiskSettings.validCleanupThreshold(cleanup), values, CLEANUP, "must be above 0.5 and "
        + "below 1, e.g. 0.8 (an eviction round frees less than half the budget, so an entry read "
        + "lately is never the next to go)");
    // YAML 1.1 reads an unquoted `off` as false.
    var plan = get(values, MEMORY_LIMIT, v -> List.of("off", "false").contains(
        v.trim().toLowerCase(Locale.ROOT)) ? null : MemoryPlan.of(Sizes.parse(v)));
    // With a limit, what the heap and direct memory hold is sized from the plan even if this JVM
    // has more.
    long heap = plan == null ? maxHeap : Math.min(maxHeap, plan.heap());
    String raise = plan == null ? "raise -Xmx in JAVA_OPTS" : "raise " + MEMORY_LIMIT.key();
    // The memory tier is off heap: half the direct memory, or the plan's room for it.
    long room = plan == null ? maxDirect / 2
        : Math.max(0, Math.min(maxDirect, plan.direct()) - plan.netty());
    long memory = get(values, MEMORY_SIZE, Sizes::parse);
    if (values.get(MEMORY_SIZE.key()).source().equals("default")) {
      // A small container still starts, with a smaller tier.
      memory = Math.min(memory, plan == null ? maxDirect / 4 : room);
    }
    check(memory <= room, values, MEMORY_SIZE, "is more than the memory tier's room in direct "
        + "memory (" + Sizes.format(room) + (plan == null ? ", half of -XX:MaxDirectMemorySize, "
        + "which is -Xmx unless set" : "") + "); lower it or " + (plan == null
        ? "raise -XX:MaxDirectMemorySize in JAVA_OPTS" : "raise " + MEMORY_LIMIT.key()));
    var compression = get(values, COMPRESSION,
        v -> Compression.valueOf(v.trim().toUpperCase(Locale.ROOT)));
    int level = get(values, ZSTD_LEVEL, Integer::parseInt);
    check(level >= 1 && level <= 19, values, ZSTD_LEVEL, "must be 1 to 19");
    long maxBlob = get(values, MAX_BLOB_SIZE, Sizes::parse);
    check(maxBlob > 0, values, MAX_BLOB_SIZE, "must be positive");
    long inflight = get(values, MAX_INFLIGHT,
        v -> v.trim().equalsIgnoreCase("auto") ? heap / 4 : Sizes.parse(v));
    check(inflight >= 1L << 20, values, MAX_INFLIGHT, "must be at least 1MiB");
    check(inflight <= heap / 2, values, MAX_INFLIGHT, "is more than half the JVM heap ("
        + Sizes.format(heap) + "); lower it or " + raise);
    var grace = get(values, SHUTDOWN_GRACE, ConfigLoader::parseDuration);
    var storage = new StorageConfig(Path.of(values.get(DIR.key()).value()), maxSize, cleanup,
        memory, compression, level, maxBlob, inflight, plan);
    var auth = authConfig(values);
    var tls = tlsConfig(values);
    boolean open = auth.mode() == AuthConfig.Mode.NONE && !tls.mutual()
        && !get(values, INSECURE_NO_AUTH, ConfigLoader::parseBoolean);
    var http = get(values, HTTP_ADDRESS, ConfigLoader::parseAddress);
    check(!open || http.getAddress().isLoopbackAddress(), values, HTTP_ADDRESS, NO_AUTH_OFF_LOOPBACK);
    var grpc = get(values, GRPC_ADDRESS, ConfigLoader::parseAddress);
    check(!open || grpc.getAddress().isLoopbackAddress(), values, GRPC_ADDRESS, NO_AUTH_OFF_LOOPBACK);
    long maxBatch = get(values, GRPC_MAX_BATCH, Sizes::parse);
    check(maxBatch >= 64 * 1024 && maxBatch <= 16L << 20, values, GRPC_MAX_BATCH,
        "must be 64KiB to 16MiB (Buck2 uses at most 4000000)");
    var idle = get(values, HTTP_IDLE_TIMEOUT, ConfigLoader::parseDuration);
    int maxConnections = get(values, HTTP_MAX_CONNECTIONS, Integer::parseInt);
    check(maxConnections >= 1, values, HTTP_MAX_CONNECTIONS, "must be at least 1");
    var digests = new DigestConfig(get(values, DIGEST_DEFAULT, ConfigLoader::hashAlike),
        get(values, DIGEST_INSTANCES, ConfigLoader::parseInstanceDigests));
    boolean insecure = get(values, INSECURE_NO_AUTH, ConfigLoader::parseBoolean);
    boolean metricsPublic = get(values, METRICS_PUBLIC, ConfigLoader::parseBoolean);
    boolean accessLog = get(values, ACCESS_LOG, ConfigLoader::parseBoolean);
    int maxBuilds = get(values, INSIGHT_MAX_BUILDS, Integer::parseInt);
    check(maxBuilds >= 1 && maxBuilds <= 1_000_000, values, INSIGHT_MAX_BUILDS, "must be 1 to 1000000");
    var retention = get(values, INSIGHT_RETENTION, ConfigLoader::parseDuration);
    check(!retention.isNegative() && !retention.isZero(), values, INSIGHT_RETENTION, "must be positive");
    var insight = new dev.buckcache.insight.InvocationLog.Settings(maxBuilds, retention,
        dev.buckcache.insight.InvocationLog.Settings.DEFAULT.idle());
    return new ServerConfig(storage, http, idle, maxConnections, grpc, maxBatch, auth, tls, metricsPublic, accessLog,
        insecure, digests, grace, s3Settings(values), insight);
  }

  /** The shared tier's settings, or null when no bucket is named. */
  private static dev.buckcache.storage.shared.S3Settings s3Settings(Map<String, Sourced> values) {
    var bucket = text(values, S3_BUCKET);
    var endpoint = text(values, S3_ENDPOINT);
    boolean pathStyle = get(values, S3_PATH_STYLE, ConfigLoader::parseBoolean);
    int connections = get(values, S3_MAX_CONNECTIONS, Integer::parseInt);
    check(connections >= 1 && connections <= 1024, values, S3_MAX_CONNECTIONS, "must be 1 to 1024");
    int retention = get(values, S3_RETENTION, Integer::parseInt);
    check(retention >= 0, values, S3_RETENTION, "must be 0 (keep forever) or a number of days");
    var durability = get(values, S3_DURABILITY, v -> switch (v.trim().toLowerCase(Locale.ROOT)) {
      case "shared" -> dev.buckcache.storage.shared.S3Settings.Durability.SHARED;
      case "async" -> dev.buckcache.storage.shared.S3Settings.Durability.ASYNC;
      default -> throw new IllegalArgumentException("not one of shared, async");
    });
    int queueMax = get(values, S3_QUEUE_MAX, Integer::parseInt);
    check(queueMax >= 1, values, S3_QUEUE_MAX, "must be at least 1");
    if (bucket == null) {
      check(endpoint == null, values, S3_ENDPOINT, "needs s3.bucket (--s3-bucket) too");
      return null;
    }
    check(bucket.matches("[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]"), values, S3_BUCKET,
        "is not an S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')");
    java.net.URI uri = null;
    if (endpoint != null) {
      var source = values.get(S3_ENDPOINT.key()).source();
      if (endpoint.contains("@")) { // user:secret@host: the value must not be echoed
        throw new ConfigException("invalid " + S3_ENDPOINT.key() + " (from " + source + "): must "
            + "not carry credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or "
            + "a role");
      }
      uri = get(values, S3_ENDPOINT, java.net.URI::create);
      check(("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
          && uri.getHost() != null, values, S3_ENDPOINT, "must be an http:// or https:// URL");
    }
    var prefix = values.get(S3_PREFIX.key()).value().trim();
    check(!prefix.startsWith("/"), values, S3_PREFIX, "must not start with /");
    var ca = path(values, S3_CA);
    if (ca != null && !Files.isReadable(ca)) {
      throw new ConfigException("cannot read s3.ca file " + ca);
    }
    return new dev.buckcache.storage.shared.S3Settings(uri, bucket,
        values.get(S3_REGION.key()).value().trim(), prefix,
        pathStyle, ca, connections, retention, durability, queueMax);
  }

  private static <T> T get(Map<String, Sourced> values, Setting s, Function<String, T> parse) {
    var v = values.get(s.key());
    try {
      return parse.apply(v.value());
    } catch (RuntimeException e) {
      throw new ConfigException("invalid " + s.key() + " '" + v.value() + "' (from " + v.source()
          + "): " + reason(e));
    }
  }

  private static void check(boolean ok, Map<String, Sourced> values, Setting s, String why) {
    if (!ok) {
      var v = values.get(s.key());
      throw new ConfigException(
          "invalid " + s.key() + " '" + v.value() + "' (from " + v.source() + "): " + why);
    }
  }

  private static String reason(RuntimeException e) {
    if (e instanceof NumberFormatException) {
      return "not a number";
    }
    if (e.getMessage() != null && e.getMessage().startsWith("No enum constant")) {
      var type = e.getMessage().contains("AuthConfig") ? AuthConfig.Mode.values() : Compression.values();
      return "not one of " + String.join(", ", java.util.Arrays.stream(type)
          .map(c -> c.name().toLowerCase(Locale.ROOT)).toList());
    }
    return e.getMessage();
  }

  private static final String NO_AUTH_OFF_LOOPBACK = "not a loopback address, and auth is off: "
      + "anyone who can reach it could read and overwrite the cache; bind to 127.0.0.1, turn on "
      + "--auth jwt or --auth static (or set AUTH_TOKEN), or pass --insecure-no-auth";

  private AuthConfig authConfig(Map<String, Sourced> values) {
    var authToken = env.get("AUTH_TOKEN");
    var modeSource = values.get(AUTH_MODE.key()).source();
    var mode = get(values, AUTH_MODE, v -> AuthConfig.Mode.valueOf(v.trim().toUpperCase(Locale.ROOT)));
    if (mode == AuthConfig.Mode.NONE && modeSource.equals("default") && authToken != null
        && !authToken.isBlank()) {
      mode = AuthConfig.Mode.STATIC;
    }
    var keys = new java.util.ArrayList<Path>();
    for (var k : values.get(JWT_KEYS.key()).value().split(",", -1)) {
      if (!k.isBlank()) {
        keys.add(Path.of(k.trim()));
      }
    }
    var config = new AuthConfig(mode, keys, path(values, JWT_HMAC), text(values, JWT_AUDIENCE),
        text(values, JWT_ISSUER), path(values, REVOCATION_FILE), path(values, STATIC_TOKEN_FILE),
        authToken == null || authToken.isBlank() ? null : authToken,
        anonymous(values), get(values, STRICT_READ, ConfigLoader::parseBoolean));
    check(mode != AuthConfig.Mode.JWT || !keys.isEmpty() || config.jwtHmacSecretFile() != null,
        values, AUTH_MODE, "jwt needs --jwt-public-key (or --jwt-hmac-secret-file)");
    check(mode != AuthConfig.Mode.STATIC || config.staticTokenFile() != null || config.authToken() != null,
        values, AUTH_MODE, "static needs --static-token-file or the AUTH_TOKEN env var");
    return config;
  }

  /**
   * auth.anonymous, with auth.allow_anonymous_reads as the older alias of {@code read}: true
   * turns {@code deny} (the default) into {@code read}, and conflicts with {@code miss}.
   */
  private static AuthConfig.Anonymous anonymous(Map<String, Sourced> values) {
    var anonymous = get(values, ANONYMOUS, AuthConfig.Anonymous::parse);
    if (!get(values, ANONYMOUS_READS, ConfigLoader::parseBoolean)) {
      return anonymous;
    }
    check(anonymous != AuthConfig.Anonymous.MISS, values, ANONYMOUS_READS,
        "is the older alias of auth.anonymous read, and auth.anonymous is miss: give only auth.anonymous");
    return AuthConfig.Anonymous.READ;
  }

  private TlsConfig tlsConfig(Map<String, Sourced> values) {
    var cert = path(values, TLS_CERT);
    var key = path(values, TLS_KEY);
    check((cert == null) == (key == null), values, cert == null ? TLS_CERT : TLS_KEY,
        "tls.cert and tls.key go together");
    var ca = path(values, TLS_CLIENT_CA);
    check(ca == null || cert != null, values, TLS_CLIENT_CA, "mTLS needs tls.cert and tls.key too");
    var scope = get(values, TLS_CLIENT_SCOPE, v -> dev.buckcache.auth.Scope.parse(v).label());
    var reload = get(values, TLS_RELOAD, ConfigLoader::parseDuration);
    check(!reload.isZero(), values, TLS_RELOAD, "must be positive");
    for (var f : new Path[] {cert, key, ca}) {
      if (f != null && !java.nio.file.Files.isReadable(f)) {
        throw new ConfigException("cannot read TLS file " + f);
      }
    }
    return new TlsConfig(cert, key, ca, scope, reload);
  }

  private static Path path(Map<String, Sourced> values, Setting s) {
    var v = values.get(s.key()).value();
    return v == null || v.isBlank() ? null : Path.of(v.trim());
  }

  private static String text(Map<String, Sourced> values, Setting s) {
    var v = values.get(s.key()).value();
    return v == null || v.isBlank() ? null : v.trim();
  }

  /** sha256 or blake3: the functions whose hashes are 64 hex digits. */
  static dev.buckcache.digest.DigestFunction hashAlike(String text) {
    var f = dev.buckcache.digest.DigestFunction.parse(text);
    if (f.hexLength() != 64) {
      throw new IllegalArgumentException("must be sha256 or blake3 (64-hex hashes)");
    }
    return f;
  }

  /** NAME=FUNCTION,NAME=FUNCTION (the YAML map digest.instances arrives in this form too). */
  static Map<String, dev.buckcache.digest.DigestFunction> parseInstanceDigests(String text) {
    var out = new LinkedHashMap<String, dev.buckcache.digest.DigestFunction>();
    for (var pair : text.split(",", -1)) {
      if (pair.isBlank()) {
        continue;
      }
      int eq = pair.indexOf('=');
      if (eq < 0) {
        throw new IllegalArgumentException("'" + pair.trim() + "' is not NAME=FUNCTION");
      }
      out.put(pair.substring(0, eq).trim(), hashAlike(pair.substring(eq + 1)));
    }
    return out;
  }

  /**
   * true or false, in any case. Nothing else: an empty YAML value ({@code access_log:}) is an
   * error, not a silent true. (YAML's own yes/no/on/off arrive here as true/false.)
   */
  static boolean parseBoolean(String text) {
    return switch (text.trim().toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new IllegalArgumentException("must be true or false");
    };
  }

  /** HOST:PORT, [IPV6]:PORT; the host must resolve. */
  static java.net.InetSocketAddress parseAddress(String text) {
    var t = text.trim();
    int colon = t.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("not HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080");
    }
    var host = t.substring(0, colon).replace("[", "").replace("]", "");
    int port;
    try {
      port = Integer.parseInt(t.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("port is not a number");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be 0 to 65535");
    }
    var address = new java.net.InetSocketAddress(host, port);
    if (address.isUnresolved()) {
      throw new IllegalArgumentException("host '" + host + "' does not resolve");
    }
    return address;
  }

  /**
   * A point in time as purge takes it: an ISO-8601 instant ({@code 2026-12-01T09:00:00Z}) or an
   * age before {@code now} ({@code 30m}, {@code 24h}, {@code 7d}).
   *
   * @throws IllegalArgumentException if it is neither
   */
  public static java.time.Instant parseInstantOrAge(String text, java.time.Instant now) {
    try {
      return java.time.Instant.parse(text);
    } catch (java.time.format.DateTimeParseException e) {
      try {
        return now.minus(parseDuration(text));
      } catch (ArithmeticException | java.time.DateTimeException tooFar) {
        throw new IllegalArgumentException("an age of " + text + " reaches before any time", tooFar);
      }
    }
  }

  /** Durations as the CLI takes them: 30s, 5m, 2h, 90d. */
  public static Duration parseDurationPublic(String text) {
    return parseDuration(text);
  }

  static Duration parseDuration(String text) {
    var t = text.trim().toLowerCase(Locale.ROOT);
    var m = java.util.regex.Pattern.compile("(\\d+)(ms|s|m|h|d)").matcher(t);
    if (!m.matches()) {
      throw new IllegalArgumentException("not a duration; use e.g. 30s, 5m, 2h, 90d");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  private static String flagOf(String key) {
    return ALL.stream().filter(s -> s.key().equals(key)).map(Setting::flag).findFirst().orElse(key);
  }

  /** Reads a YAML file into dotted keys; unknown keys are errors (a typo must not be ignored). */
  private static Map<String, String> readYaml(Path file) {
    Object root;
    try {
      root = new Yaml(new SafeConstructor(new LoaderOptions())).load(Files.readString(file));
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    } catch (RuntimeException e) {
      throw new ConfigException("config file " + file + " is not valid YAML: "
          + e.getMessage().lines().findFirst().orElse(""));
    }
    var out = new LinkedHashMap<String, String>();
    if (root != null) {
      flatten("", root, out, file);
    }
    foldMap(out, DIGEST_INSTANCES.key());
    for (var key : out.keySet()) {
      if (ALL.stream().noneMatch(s -> s.key().equals(key))) {
        throw new ConfigException("config file " + file + ": unknown key '" + key + "' (known: "
            + String.join(", ", ALL.stream().map(Setting::key).toList()) + ")");
      }
    }
    return out;
  }

  /** Turns YAML map entries {@code key.NAME: v} into one value {@code NAME=v,...} under key. */
  private static void foldMap(Map<String, String> flat, String key) {
    var prefix = key + ".";
    var pairs = new java.util.ArrayList<String>();
    flat.entrySet().removeIf(e -> {
      if (e.getKey().startsWith(prefix)) {
        pairs.add(e.getKey().substring(prefix.length()) + "=" + e.getValue());
        return true;
      }
      return false;
    });
    if (!pairs.isEmpty()) {
      flat.put(key, String.join(",", pairs));
    }
  }

  private static void flatten(String prefix, Object node, Map<String, String> out, Path file) {
    if (node instanceof Map<?, ?> map) {
      map.forEach((k, v) -> flatten(prefix.isEmpty() ? String.valueOf(k) : prefix + "." + k, v, out, file));
    } else if (node instanceof List<?>) {
      throw new ConfigException("config file " + file + ": '" + prefix + "' must not be a list");
    } else if (prefix.isEmpty()) {
      throw new ConfigException("config file " + file + " must be a mapping of settings");
    } else {
      out.put(prefix, node == null ? "" : String.valueOf(node));
    }
  }
}
