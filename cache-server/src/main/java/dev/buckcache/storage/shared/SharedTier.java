package dev.buckcache.storage.shared;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.AcEntry;
import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.BlobReader;
import dev.buckcache.storage.BlobWriter;
import dev.buckcache.storage.CacheStore;
import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.StoredChunk;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Design notes
 *
 * A decorator: the local store (memory over RocksDB) below it is a cache of the bucket, and
 * nothing above it knows there is a bucket. No node talks to another; the bucket is the only
 * shared state.
 *
 * Durability "shared": a CAS upload is committed locally (verified against its digest as
 * always), then streamed from the local copy to the bucket, and only then acknowledged. An AC
 * entry goes to the local store, then to the bucket, then is acknowledged. When the bucket
 * refuses, the client gets 503 / UNAVAILABLE, and the local copy is marked unshared: presence
 * checks report it missing, so the client's retry uploads it again. (The mark lives in memory;
 * after a crash between the local commit and the bucket PUT the blob is local only. Another node
 * then still answers correctly: an action result whose outputs it cannot find is a miss there,
 * because AC completeness checks see the bucket through this tier.)
 *
 * Reads: local first. A miss is fetched from the bucket into the local disk, streaming and
 * verified against the digest like any upload, then served from there; concurrent misses for one
 * key fetch once. A bucket object that does not match its digest is ignored (a miss), never
 * served. Two reads pass bytes through from the bucket instead, unverified here (the uploading
 * node verified them, and the client verifies the whole blob): a resumed read from an offset
 * (ByteStream read_offset), as a ranged GET, unless a fetch of that blob is under way; and a
 * blob the local disk cannot keep (over its budget, or no room).
 *
 * Presence (FindMissingBlobs, AC completeness): the local index first, then HEADs for the rest,
 * in parallel on a bounded pool.
 *
 * Retention: a bucket lifecycle rule expires objects after s3.retention_days. An object this
 * node uses (reads, or finds present) and that is older than half of that is copied onto itself,
 * which restarts its age, so hot data never expires. Each key is checked at most once per
 * quarter of the retention per node, on one background thread with a bounded queue.
 *
 * Outage: see SharedHealth. Reads fall back to the local tiers; writes fail at once while the
 * bucket is down; a probe every second (by request or in the background) ends the outage.
 */

/** The shared (S3) tier over a node's local store. */
public final class SharedTier implements CacheStore, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SharedTier.class);
  /** Uploads of at least this size first ask whether the bucket has the object already. */
  static final long HEAD_BEFORE_PUT = 1L << 20;

  private static final int COPY_BUFFER = 64 << 10;
  /** Bytes a pass-through read returns at a time. */
  private static final int PIECE = COPY_BUFFER * 16;
  private static final int LOOKUP_THREADS_MAX = 32;
  private static final String KIND = "kind";
  private static final String WRITER = "written-by";

  private final CacheStore local;
  private final ObjectStore bucket;
  private final S3Settings settings;
  private final SharedHealth health;
  private final Clock clock;
  private final ExecutorService lookups;
  private final ThreadPoolExecutor refresher;
  private final ScheduledExecutorService prober;
  private final ConcurrentHashMap<String, CompletableFuture<Fetched>> fetches =
      new ConcurrentHashMap<>();
  /** Committed locally, refused by the bucket: not present until an upload succeeds. */
  private final Cache<String, Boolean> unshared =
      Caffeine.newBuilder().maximumSize(1_000_000).build();
  /** Keys whose age was checked lately, so each is checked once per quarter retention. */
  private final Cache<String, Boolean> checked;
  /** Async durability's uploads; null in shared mode. */
  private final UploadQueue queue;

  /**
   * @param queueDir where async durability keeps its upload queue (unused in shared mode)
   * @param queueMaxBytes blob bytes the async queue may hold; keep it well inside the local
   *     disk's budget, so queued blobs are not evicted before they are uploaded
   */
  public SharedTier(CacheStore local, ObjectStore bucket, S3Settings settings, Clock clock,
      java.nio.file.Path queueDir, long queueMaxBytes) {
    this.local = requireNonNull(local, "local");
    this.bucket = requireNonNull(bucket, "bucket");
    this.settings = requireNonNull(settings, "settings");
    this.clock = requireNonNull(clock, "clock");
    this.health = new SharedHealth(bucket.describe(), clock);
    int threads = Math.min(settings.maxConnections(), LOOKUP_THREADS_MAX);
    this.lookups = Executors.newFixedThreadPool(threads, daemon("buckcache-s3-lookup"));
    this.refresher = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
        new ArrayBlockingQueue<>(10_000), daemon("buckcache-s3-refresh"),
        new ThreadPoolExecutor.DiscardPolicy());
    long quarter = Math.max(1, Duration.ofDays(Math.max(1, settings.retentionDays())).toMinutes() / 4);
    this.checked = Caffeine.newBuilder().maximumSize(200_000)
        .expireAfterWrite(Duration.ofMinutes(quarter)).build();
    this.prober = Executors.newSingleThreadScheduledExecutor(daemon("buckcache-s3-probe"));
    var unused = prober.scheduleWithFixedDelay(this::probeIfDegraded, 2, 2, TimeUnit.SECONDS);
    this.queue = settings.durability() == S3Settings.Durability.ASYNC
        ? new UploadQueue(queueDir, settings.queueMaxItems(), queueMaxBytes,
            Math.min(settings.maxConnections(), 8), this::upload, health)
        : null;
  }

  /** Shared mode over a store whose writes are acknowledged once in the bucket. */
  public SharedTier(CacheStore local, ObjectStore bucket, S3Settings settings, Clock clock) {
    this(local, bucket, settings, clock, null, 0);
  }

  /** One queued upload (async mode), from the local copy for a blob. */
  private void upload(UploadQueue.Item item) {
    if (item instanceof UploadQueue.AcItem a) {
      bucket.put(acKey(a.key()), a.entry().value(), metadata(a.entry()));
      return;
    }
    var digest = ((UploadQueue.CasItem) item).digest();
    if (!local.contains(digest)) {
      throw new IllegalStateException("blob " + digest + " left the local store before it was "
          + "uploaded");
    }
    putBlob(digest);
  }

  private void putBlob(Digest digest) {
    var key = casKey(digest);
    var info = digest.size() >= HEAD_BEFORE_PUT ? bucket.head(key) : null;
    if (info == null || info.size() != digest.size()) {
      bucket.put(key, digest.size(), offset -> localStream(digest, offset), Map.of());
    }
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      var t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  // ---------------------------------------------------------------------------------- keys

  String casKey(Digest d) {
    return settings.prefix() + "cas/" + label(d.function()) + "/" + d.hash();
  }

  String acKey(AcKey k) {
    // The default instance is "_"; a named one is percent-encoded, so "_" itself is "%5F".
    var instance = k.instance().isEmpty() ? "_"
        : URLEncoder.encode(k.instance(), StandardCharsets.UTF_8).replace("_", "%5F");
    return settings.prefix() + "ac/" + instance + "/" + label(k.function()) + "/" + k.hash();
  }

  private static String label(DigestFunction f) {
    return f.name().toLowerCase(Locale.ROOT);
  }

  // ---------------------------------------------------------------------------------- CAS

  @Override
  public boolean contains(Digest digest) {
    if (digest.isEmpty()) {
      return true;
    }
    var key = casKey(digest);
    if (local.contains(digest) && unshared.getIfPresent(key) == null) {
      used(key, null);
      return true;
    }
    return inBucket(digest, key);
  }

  @Override
  public List<Digest> findMissing(Collection<Digest> digests) {
    var ask = new HashSet<Digest>(local.findMissing(digests));
    // Most calls find no blob unshared and, with retention off, nothing to note per digest.
    if (unshared.estimatedSize() > 0 || settings.retentionDays() > 0) {
      for (var d : digests) {
        var key = casKey(d);
        if (unshared.getIfPresent(key) != null) {
          ask.add(d);
        } else if (!ask.contains(d) && !d.isEmpty()) {
          used(key, null);
        }
      }
    }
    if (ask.isEmpty()) {
      return List.of();
    }
    var present = ConcurrentHashMap.<Digest>newKeySet();
    if (health.tryNow()) {
      var futures = new ArrayList<CompletableFuture<Void>>();
      for (var d : ask) {
        futures.add(CompletableFuture.runAsync(() -> {
          if (inBucket(d, casKey(d))) {
            present.add(d);
          }
        }, lookups));
      }
      CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).join();
    }
    var missing = new ArrayList<Digest>();
    for (var d : digests) {
      if (ask.contains(d) && !present.contains(d)) {
        missing.add(d);
      }
    }
    return missing;
  }

  /** True if the bucket holds the blob (a failure counts as no). */
  private boolean inBucket(Digest d, String key) {
    var info = ask(() -> bucket.head(key));
    if (info == null || info.size() != d.size()) {
      return false;
    }
    used(key, info);
    return true;
  }

  /**
   * A read from the bucket, unless it is known to be down; an outage (now or already known)
   * gives null, which every read path treats as "not in the bucket".
   */
  private <T> T ask(java.util.function.Supplier<T> call) {
    if (!health.tryNow()) {
      return null;
    }
    try {
      var answer = call.get();
      health.succeeded();
      return answer;
    } catch (StorageException.Unavailable e) {
      health.failed(e.getMessage());
      return null;
    }
  }

  @Override
  public Optional<BlobReader> open(Digest digest, long offset) {
    var hit = local.open(digest, offset);
    if (hit.isPresent() || digest.isEmpty()) {
      hit.ifPresent(r -> used(casKey(digest), null));
      return hit;
    }
    if (offset > 0 && !fetches.containsKey(casKey(digest))) {
      // A resumed read (ByteStream read_offset): a ranged GET from there, passed through.
      return ranged(digest, offset);
    }
    var fetched = fetch(digest);
    if (fetched == Fetched.LOCAL) {
      return local.open(digest, offset);
    }
    // Bigger than this node's disk can keep: passed through from the bucket, not kept.
    return fetched == Fetched.TOO_BIG_HERE ? ranged(digest, offset) : Optional.empty();
  }

  /** The blob from {@code offset}, straight from the bucket (a ranged GET), or empty. */
  private Optional<BlobReader> ranged(Digest digest, long offset) {
    var key = casKey(digest);
    var object = ask(() -> bucket.get(key, offset));
    if (object == null) {
      return Optional.empty();
    }
    if (object.info().size() != digest.size()) {
      closeQuietly(object.body());
      log.warn("shared store object {} is {} bytes, not {}: ignored", key, object.info().size(),
          digest.size());
      return Optional.empty();
    }
    used(key, object.info());
    return Optional.of(new PassThroughReader(digest.size(), digest.size() - offset,
        object.body()));
  }

  private static void closeQuietly(InputStream in) {
    try {
      in.close();
    } catch (IOException e) {
      // nothing was read from it
    }
  }

  @Override
  public Optional<BlobReader> openHash(DigestFunction function, String hash) {
    var hit = local.openHash(function, hash);
    if (hit.isPresent()) {
      used(casKey(new Digest(function, hash, 0)), null);
      return hit;
    }
    // One GET, no HEAD first: its answer gives the size, which the path does not.
    var key = casKey(new Digest(function, hash, 0));
    var fetched = fetch(key, info -> new Digest(function, hash, info.size()));
    if (fetched == Fetched.LOCAL) {
      return local.openHash(function, hash);
    }
    if (fetched == Fetched.TOO_BIG_HERE) {
      var info = ask(() -> bucket.head(key));
      return info == null ? Optional.empty() : ranged(new Digest(function, hash, info.size()), 0);
    }
    return Optional.empty();
  }

  /** How a fetch ended. */
  private enum Fetched {
    /** In the local store now. */
    LOCAL,
    /** In the bucket, but the local store cannot keep it (over its size or its free room). */
    TOO_BIG_HERE,
    /** Not in the bucket (or not as its digest says), or the bucket is down. */
    NONE
  }

  /**
   * Brings a blob from the bucket into the local store. One fetch per key at a time: a
   * concurrent caller waits for it and shares its outcome.
   */
  private Fetched fetch(Digest digest) {
    return fetch(casKey(digest), info -> digest);
  }

  /** As {@link #fetch(Digest)}, the digest told by the object's info (a path without size). */
  private Fetched fetch(String key, java.util.function.Function<ObjectStore.Info, Digest> digestOf) {
    var mine = new CompletableFuture<Fetched>();
    var theirs = fetches.putIfAbsent(key, mine);
    if (theirs != null) {
      return theirs.join();
    }
    var outcome = Fetched.NONE;
    try {
      outcome = download(key, digestOf);
    } finally {
      mine.complete(outcome);
      fetches.remove(key, mine);
    }
    return outcome;
  }

  private Fetched download(String key, java.util.function.Function<ObjectStore.Info, Digest> digestOf) {
    var object = ask(() -> bucket.get(key, 0));
    if (object == null) {
      return Fetched.NONE;
    }
    try (var body = object.body()) {
      var digest = digestOf.apply(object.info());
      if (object.info().size() != digest.size()) {
        log.warn("shared store object {} is {} bytes, not {}: ignored", key,
            object.info().size(), digest.size());
        return Fetched.NONE;
      }
      try (var writer = local.newWriter(digest)) {
        // Small: the local writer already buffers a chunk; this only carries bytes across.
        var buffer = new byte[(int) Math.max(1, Math.min(COPY_BUFFER, digest.size()))];
        for (int n = body.readNBytes(buffer, 0, buffer.length); n > 0;
            n = body.readNBytes(buffer, 0, buffer.length)) {
          writer.write(buffer, 0, n);
        }
        writer.commit();
      }
      used(key, object.info());
      return Fetched.LOCAL;
    } catch (StorageException.ContentMismatch e) {
      log.warn("shared store object {} does not match its digest: ignored ({})", key,
          e.getMessage());
      return Fetched.NONE;
    } catch (StorageException.TooLarge | StorageException.StoreFull e) {
      log.info("shared store object {} cannot be kept locally, served from the bucket: {}", key,
          e.getMessage());
      return Fetched.TOO_BIG_HERE;
    } catch (IOException | java.io.UncheckedIOException e) {
      health.failed("shared store " + bucket.describe() + ": reading " + key + " failed: "
          + e.getMessage());
      return Fetched.NONE;
    }
  }

  @Override
  public BlobWriter newWriter(Digest digest) {
    var inner = local.newWriter(digest);
    return digest.isEmpty() ? inner : new SharingWriter(digest, inner);
  }

  /**
   * A batch: every blob is committed locally first, then the bucket PUTs overlap on the lookup
   * pool (at most s3.max_connections, capped at 32), so a batch of small blobs costs about one
   * round trip, not one per blob. Each blob is acknowledged on its own PUT, as for one upload.
   */
  @Override
  public List<RuntimeException> putAll(List<BatchBlob> blobs) {
    var outcomes = local.putAll(blobs).toArray(RuntimeException[]::new);
    var shares = new ArrayList<CompletableFuture<Void>>();
    for (int i = 0; i < blobs.size(); i++) {
      var digest = blobs.get(i).digest();
      if (outcomes[i] != null || digest.isEmpty()) {
        continue;
      }
      int at = i;
      Runnable share = () -> {
        try {
          share(digest);
        } catch (RuntimeException e) {
          outcomes[at] = e;
        }
      };
      if (queue != null || !health.tryNow()) {
        share.run(); // queued, or refused at once: nothing to wait for
      } else {
        shares.add(CompletableFuture.runAsync(share, lookups));
      }
    }
    CompletableFuture.allOf(shares.toArray(CompletableFuture[]::new)).join();
    return java.util.Arrays.asList(outcomes);
  }

  /** Fetches the blobs not on the local disk in parallel, as FindMissing asks (bounded pool). */
  @Override
  public void prefetch(Collection<Digest> digests) {
    if (digests.size() < 2 || !health.tryNow()) {
      return; // one read fetches on its own
    }
    var absent = local.findMissing(digests);
    if (absent.size() < 2) {
      return;
    }
    var pending = new ArrayList<CompletableFuture<Fetched>>();
    for (var d : absent) {
      if (!d.isEmpty()) {
        pending.add(CompletableFuture.supplyAsync(() -> fetch(d), lookups));
      }
    }
    CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
  }

  /** Puts a locally committed blob into the bucket (or its queue), from the local copy. */
  private void share(Digest digest) {
    if (queue != null) {
      queue.addCas(digest);
      return;
    }
    var key = casKey(digest);
    if (!health.tryNow()) {
      unshared.put(key, Boolean.TRUE);
      throw unavailable(health.outage().reason(), null);
    }
    try {
      putBlob(digest);
      health.succeeded();
      unshared.invalidate(key);
    } catch (StorageException.Unavailable e) {
      health.failed(e.getMessage());
      unshared.put(key, Boolean.TRUE);
      throw unavailable(e.getMessage(), e);
    }
  }

  private static StorageException.Unavailable unavailable(String reason, Throwable cause) {
    return new StorageException.Unavailable(reason + "; not stored in the shared store, "
        + "retry later", cause);
  }

  /** The local copy from {@code offset}, as a stream, for an upload (and its retries). */
  private InputStream localStream(Digest digest, long offset) throws IOException {
    var reader = local.open(digest, offset)
        .orElseThrow(() -> new IOException("blob " + digest + " left the local store before it "
            + "reached the shared store"));
    return new ReaderStream(reader);
  }

  @Override
  public <T> T peek(DigestFunction function, String hash,
      java.util.function.Function<java.nio.ByteBuffer, T> copy) {
    return local.peek(function, hash, copy);
  }

  @Override
  public int writeBufferBytes() {
    return local.writeBufferBytes();
  }

  // ---------------------------------------------------------------------------------- AC

  @Override
  public Optional<AcEntry> get(AcKey key) {
    var hit = local.get(key);
    var objectKey = acKey(key);
    if (hit.isPresent()) {
      used(objectKey, null);
      return hit;
    }
    var object = ask(() -> bucket.get(objectKey, 0));
    if (object == null) {
      return Optional.empty();
    }
    byte[] value;
    try (var body = object.body()) {
      if (object.info().size() > AcEntry.MAX_SIZE) { // not ours, or not a value we would take
        log.warn("shared store object {} is {} bytes, over the action-cache limit: ignored",
            objectKey, object.info().size());
        return Optional.empty();
      }
      value = body.readNBytes((int) object.info().size());
    } catch (IOException e) {
      health.failed("shared store " + bucket.describe() + ": reading " + objectKey + " failed: "
          + e.getMessage());
      return Optional.empty();
    }
    var kind = "raw".equals(object.info().metadata().get(KIND))
        ? AcEntry.Kind.RAW : AcEntry.Kind.ACTION_RESULT;
    var entry = new AcEntry(kind, value, writerOf(object.info().metadata()));
    try {
      local.put(key, entry);
    } catch (StorageException e) {
      log.debug("action-cache entry {} from the shared store not kept locally: {}", objectKey,
          e.getMessage());
    }
    used(objectKey, object.info());
    return Optional.of(entry);
  }

  @Override
  public void put(AcKey key, AcEntry entry) {
    local.put(key, entry);
    if (queue != null) {
      queue.addAc(key, entry);
      return;
    }
    var objectKey = acKey(key);
    if (!health.tryNow()) {
      throw unavailable(health.outage().reason(), null);
    }
    try {
      bucket.put(objectKey, entry.value(), metadata(entry));
      health.succeeded();
    } catch (StorageException.Unavailable e) {
      health.failed(e.getMessage());
      throw unavailable(e.getMessage(), e);
    }
  }

  private static Map<String, String> metadata(AcEntry entry) {
    var kind = entry.kind() == AcEntry.Kind.RAW ? "raw" : "action-result";
    if (entry.writer() == null) {
      return Map.of(KIND, kind);
    }
    // S3 user metadata is ASCII: the writer's encoded bytes go as base64url (under 600 chars)
    return Map.of(KIND, kind, WRITER, java.util.Base64.getUrlEncoder().withoutPadding()
        .encodeToString(entry.writer().encode()));
  }

  private static dev.buckcache.storage.Provenance writerOf(Map<String, String> metadata) {
    var encoded = metadata.get(WRITER);
    if (encoded == null) {
      return null;
    }
    try {
      return dev.buckcache.storage.Provenance.decode(java.util.Base64.getUrlDecoder().decode(encoded));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * Deletes the bucket copies of the matching entries this node holds, then the local entries,
   * so that a bucket that fails part way leaves the local entries in place and the same purge can
   * simply run again. Entries this node never held are not found: their writer is in their bucket
   * metadata only, which a listing does not return (see the README's purge section).
   */
  @Override
  public List<AcKey> purgeActionCache(java.util.function.Predicate<dev.buckcache.storage.Provenance> match,
      boolean dryRun) {
    var found = local.purgeActionCache(match, true);
    if (dryRun) {
      return found;
    }
    deleteFromBucket(found);
    var purged = local.purgeActionCache(match, false);
    var since = new java.util.ArrayList<>(purged);
    since.removeAll(new java.util.HashSet<>(found)); // written between the two scans
    deleteFromBucket(since);
    return purged;
  }

  private void deleteFromBucket(List<AcKey> keys) {
    for (var key : keys) {
      try {
        bucket.delete(acKey(key));
      } catch (StorageException.Unavailable e) {
        health.failed(e.getMessage());
        throw new StorageException.Unavailable("purge stopped: a copy in the shared store could "
            + "not be deleted (" + e.getMessage() + "); nothing more was purged here, run it "
            + "again", e);
      }
    }
  }

  // ---------------------------------------------------------------------------------- retention

  /**
   * Notes that an object was used. If it may be older than half the retention, one background
   * check (at most one per key per quarter retention) refreshes it in the bucket.
   *
   * @param known what the bucket just said of it, or null if this node does not know its age
   */
  private void used(String key, ObjectStore.Info known) {
    if (settings.retentionDays() <= 0 || checked.getIfPresent(key) != null) {
      return;
    }
    checked.put(key, Boolean.TRUE);
    refresher.execute(() -> refreshIfOld(key, known));
  }

  private void refreshIfOld(String key, ObjectStore.Info known) {
    try {
      var info = known;
      if (info == null) {
        if (!health.tryNow()) {
          checked.invalidate(key);
          return;
        }
        info = bucket.head(key);
      }
      if (info == null || info.lastModified() == null) {
        return;
      }
      var half = Duration.ofDays(settings.retentionDays()).dividedBy(2);
      if (info.lastModified().isBefore(Instant.now(clock).minus(half))) {
        bucket.refresh(key, info.metadata());
      }
    } catch (StorageException.Unavailable e) {
      health.failed(e.getMessage());
      checked.invalidate(key);
    } catch (RuntimeException e) {
      log.warn("refreshing {} in the shared store failed", key, e);
    }
  }

  // ---------------------------------------------------------------------------------- health

  private void probeIfDegraded() {
    if (health.outage() == null || !health.tryNow()) {
      return;
    }
    try {
      bucket.probe();
      health.succeeded();
    } catch (StorageException.Unavailable e) {
      health.failed(e.getMessage());
    } catch (RuntimeException e) {
      health.failed("shared store " + bucket.describe() + ": probe failed: " + e);
    }
  }

  /**
   * {@code ok}, or {@code degraded: shared store ...: <reason> (since ...)}; in async mode
   * followed by the uploads waiting, if any.
   */
  public String status() {
    int waiting = queue == null ? 0 : queue.size();
    return health.status() + (waiting == 0 ? "" : "; " + waiting + " uploads queued");
  }

  /** Uploads waiting in the async queue (0 in shared mode). */
  public int queued() {
    return queue == null ? 0 : queue.size();
  }

  /** Blob bytes waiting in the async queue. */
  public long queuedBytes() {
    return queue == null ? 0 : queue.bytes();
  }

  /** Async uploads given up on because their blob left the local store first. */
  public long queueDropped() {
    return queue == null ? 0 : queue.dropped();
  }

  public S3Settings.Durability durability() {
    return settings.durability();
  }

  /** True while the bucket answers. */
  public boolean healthy() {
    return health.outage() == null;
  }

  public String describe() {
    return bucket.describe();
  }

  /** Background refresh checks waiting (for tests and metrics). */
  int refreshesQueued() {
    return refresher.getQueue().size() + refresher.getActiveCount();
  }

  @Override
  public void close() {
    if (queue != null) {
      queue.close();
    }
    prober.shutdownNow();
    refresher.shutdownNow();
    lookups.shutdownNow();
    bucket.close();
  }

  /** Hashes the client's bytes into the local store; on commit, into the bucket too. */
  private final class SharingWriter implements BlobWriter {
    private final Digest digest;
    private final BlobWriter inner;

    SharingWriter(Digest digest, BlobWriter inner) {
      this.digest = digest;
      this.inner = inner;
    }

    @Override
    public void write(byte[] bytes, int offset, int length) {
      inner.write(bytes, offset, length);
    }

    @Override
    public void write(ByteBuffer bytes) {
      inner.write(bytes);
    }

    @Override
    public long committedSize() {
      return inner.committedSize();
    }

    @Override
    public void commit() {
      inner.commit();
      share(digest);
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  /**
   * A blob (from some offset) read straight from a bucket response, chunk by chunk. Not verified
   * here: a range cannot be, and the client verifies the whole blob; the uploading node verified
   * it before it was put. Closing it closes the response.
   */
  private static final class PassThroughReader implements BlobReader {
    private final long size;
    private final InputStream body;
    private long remaining;

    PassThroughReader(long size, long remaining, InputStream body) {
      this.size = size;
      this.remaining = remaining;
      this.body = body;
    }

    @Override
    public long size() {
      return size;
    }

    @Override
    public byte[] nextRaw() {
      if (remaining <= 0) {
        return null;
      }
      try {
        var bytes = body.readNBytes((int) Math.min(PIECE, remaining));
        if (bytes.length == 0) {
          throw new StorageException.Unavailable("the shared store's response ended "
              + remaining + " bytes early", null);
        }
        remaining -= bytes.length;
        return bytes;
      } catch (IOException e) {
        throw new StorageException.Unavailable("reading from the shared store failed: "
            + e.getMessage(), e);
      }
    }

    @Override
    public boolean nextRaw(java.nio.ByteBuffer into) {
      return BlobReader.copyPiece(nextRaw(), into);
    }

    @Override
    public int pieceRoom() {
      return (int) Math.min(PIECE, Math.max(0, remaining));
    }
    @Override
    public StoredChunk nextStored() {
      return StoredChunk.raw(nextRaw());
    }

    @Override
    public void close() {
      closeQuietly(body);
    }
  }

  /** A blob reader as an InputStream. */
  private static final class ReaderStream extends InputStream {
    private final BlobReader reader;
    private byte[] chunk = new byte[0];
    private int pos;
    private boolean done;

    ReaderStream(BlobReader reader) {
      this.reader = reader;
    }

    private boolean fill() {
      while (!done && pos == chunk.length) {
        var next = reader.nextRaw();
        if (next == null) {
          done = true;
        } else {
          chunk = next;
          pos = 0;
        }
      }
      return pos < chunk.length;
    }

    @Override
    public int read() {
      return fill() ? chunk[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] buf, int off, int len) {
      if (len == 0) {
        return 0;
      }
      if (!fill()) {
        return -1;
      }
      int n = Math.min(len, chunk.length - pos);
      System.arraycopy(chunk, pos, buf, off, n);
      pos += n;
      return n;
    }

    @Override
    public void close() {
      reader.close();
    }
  }
}
