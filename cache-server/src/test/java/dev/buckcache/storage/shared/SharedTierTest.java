package dev.buckcache.storage.shared;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.AcEntry;
import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.BlobReader;
import dev.buckcache.storage.FailureKind;
import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskSettings;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared tier's rules over a real local store (RocksDB in a temp dir) and an in-memory
 * bucket that can fail, stall and age on demand. The real S3 server (s3proxy) and real clients
 * drive it in cache-client-tests; these are the cases a real server cannot be made to show on
 * cue.
 */
class SharedTierTest {
  @TempDir Path dirA;
  @TempDir Path dirB;
  private final FakeBucket bucket = new FakeBucket();
  private final List<AutoCloseable> open = new ArrayList<>();
  private final Random random = new Random(7);

  private SharedTier node(Path dir, int retentionDays) {
    return node(dir, retentionDays, S3Settings.Durability.SHARED, 100);
  }

  private SharedTier node(Path dir, int retentionDays, S3Settings.Durability durability,
      int queueMax) {
    return node(dir, retentionDays, durability, queueMax, Clock.systemUTC());
  }

  private SharedTier node(Path dir, int retentionDays, S3Settings.Durability durability,
      int queueMax, Clock clock) {
    var local = TieredStore.open(new DiskSettings(dir.resolve("db"), 256L << 20, 0.8, true, 1,
        64 * 1024), 8L << 20, 1L << 40);
    var settings = new S3Settings(null, "cache", "us-east-1", "p", true, null, 8, retentionDays,
        durability, queueMax);
    var tier = new SharedTier(local, bucket, settings, clock, dir.resolve("queue"), 64L << 20);
    open.add(local);
    open.add(tier);
    return tier;
  }

  private static void await(java.util.function.BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what).isLessThan(deadline);
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  @Test
  void purge_deletesTheBucketCopiesFirst_aFailingBucketLeavesEverythingToRetry() {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var by = new dev.buckcache.storage.Provenance("leaked", "bazel", "", "10.0.0.1",
        java.time.Instant.now());
    var leaked = new AcKey("", DigestFunction.SHA256, digest(bytes(11)).hash());
    var kept = new AcKey("", DigestFunction.SHA256, digest(bytes(12)).hash());
    a.put(leaked, new AcEntry(AcEntry.Kind.RAW, new byte[] {1}, by));
    a.put(kept, new AcEntry(AcEntry.Kind.RAW, new byte[] {2}, new dev.buckcache.storage.Provenance(
        "release", "bazel", "", "10.0.0.2", java.time.Instant.now())));
    // The writer travels with the bucket copy: node B, which fetched it, can purge it too.
    assertThat(b.get(leaked)).isPresent();
    java.util.function.Predicate<dev.buckcache.storage.Provenance> isLeaked =
        w -> w.subject().equals("leaked");
    assertThat(b.purgeActionCache(isLeaked, true)).containsExactly(leaked);

    bucket.down = true;
    assertThatThrownBy(() -> a.purgeActionCache(isLeaked, false))
        .isInstanceOf(dev.buckcache.storage.StorageException.Unavailable.class)
        .hasMessageContaining("run it again");
    assertThat(a.purgeActionCache(isLeaked, true)).as("nothing purged locally").containsExactly(leaked);
    bucket.down = false;

    assertThat(a.purgeActionCache(isLeaked, false)).containsExactly(leaked);
    assertThat(bucket.objects).doesNotContainKey(a.acKey(leaked)).containsKey(a.acKey(kept));
    assertThat(a.get(leaked)).isEmpty();
    assertThat(a.get(kept)).isPresent();
  }

  @Test
  void async_writesGoOnWhileTheBucketIsDown_andTheQueueDrainsWhenItIsBack() {
    var a = node(dirA, 0, S3Settings.Durability.ASYNC, 100);
    var b = node(dirB, 0);
    bucket.down = true;
    var blob = bytes(300_000);
    var key = new AcKey("", DigestFunction.SHA256, digest(bytes(3)).hash());
    a.put(digest(blob), blob);
    a.put(key, new AcEntry(AcEntry.Kind.RAW, new byte[] {4, 2}));
    assertThat(a.queued()).isEqualTo(2);
    assertThat(a.queuedBytes()).isEqualTo(300_000);
    assertThat(a.status()).endsWith("; 2 uploads queued");
    assertThat(read(a.open(digest(blob), 0).orElseThrow())).isEqualTo(blob);

    bucket.down = false;
    await(() -> a.queued() == 0, "queue drained");
    assertThat(read(b.open(digest(blob), 0).orElseThrow())).isEqualTo(blob);
    assertThat(b.get(key).orElseThrow().value()).containsExactly(4, 2);
    assertThat(a.status()).isEqualTo("ok");
  }

  @Test
  void async_anActionResultGoesUpOnlyAfterTheBlobsQueuedBeforeIt() throws Exception {
    var a = node(dirA, 0, S3Settings.Durability.ASYNC, 100);
    bucket.stallCasPuts = new CountDownLatch(1);
    var blobs = new ArrayList<byte[]>();
    for (int i = 0; i < 5; i++) {
      blobs.add(bytes(1000 + i));
      a.put(digest(blobs.get(i)), blobs.get(i));
    }
    var key = new AcKey("", DigestFunction.SHA256, digest(bytes(3)).hash());
    a.put(key, new AcEntry(AcEntry.Kind.ACTION_RESULT, new byte[] {1}));
    await(() -> bucket.waitingPuts.get() > 0, "an upload started");
    Thread.sleep(300);
    assertThat(bucket.objects).as("the action result waits for its outputs").isEmpty();
    bucket.stallCasPuts.countDown();
    await(() -> a.queued() == 0, "queue drained");
    assertThat(bucket.putOrder).hasSize(6);
    assertThat(bucket.putOrder.get(5)).isEqualTo("p/ac/_/sha256/" + key.hash());
  }

  @Test
  void async_theQueueSurvivesAStop_andResumesOnTheNextStart() throws Exception {
    var local = TieredStore.open(new DiskSettings(dirA.resolve("db"), 256L << 20, 0.8, true, 1,
        64 * 1024), 8L << 20, 1L << 40);
    var settings = new S3Settings(null, "cache", "us-east-1", "p", true, null, 8, 0,
        S3Settings.Durability.ASYNC, 100);
    var tier = new SharedTier(local, bucket, settings, Clock.systemUTC(), dirA.resolve("queue"),
        64L << 20);
    bucket.down = true;
    var blobs = new ArrayList<byte[]>();
    for (int i = 0; i < 20; i++) {
      blobs.add(bytes(2000 + i));
      tier.put(digest(blobs.get(i)), blobs.get(i));
    }
    tier.close();
    local.close();
    assertThat(bucket.objects).isEmpty();

    bucket.down = false;
    var again = node(dirA, 0, S3Settings.Durability.ASYNC, 100);
    await(() -> again.queued() == 0, "queue drained after the restart");
    var b = node(dirB, 0);
    for (var blob : blobs) {
      assertThat(read(b.open(digest(blob), 0).orElseThrow())).isEqualTo(blob);
    }
    try (var left = java.nio.file.Files.list(dirA.resolve("queue"))) {
      assertThat(left.count()).as("every queue file removed").isZero();
    }
  }

  @Test
  void async_aFullQueue_refusesWritesWithTheReason() {
    var a = node(dirA, 0, S3Settings.Durability.ASYNC, 3);
    bucket.down = true;
    for (int i = 0; i < 3; i++) {
      var blob = bytes(10 + i);
      a.put(digest(blob), blob);
    }
    var one = bytes(99);
    assertThatThrownBy(() -> a.put(digest(one), one))
        .isInstanceOf(StorageException.Unavailable.class)
        .hasMessageContaining("upload queue is full (3 uploads");
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private byte[] bytes(int size) {
    var b = new byte[size];
    random.nextBytes(b);
    return b;
  }

  private static Digest digest(byte[] content) {
    return Digest.of(DigestFunction.SHA256, content);
  }

  private static byte[] read(BlobReader reader) {
    try (reader) {
      var out = new ByteArrayOutputStream();
      for (var c = reader.nextRaw(); c != null; c = reader.nextRaw()) {
        out.write(c, 0, c.length);
      }
      return out.toByteArray();
    }
  }

  @Test
  void blobWrittenThroughOneNode_isServedByAnother_andLandsOnItsDisk() {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var small = bytes(100);
    var large = bytes(3 << 20);
    a.put(digest(small), small);
    a.put(digest(large), large);

    assertThat(bucket.objects).containsKeys("p/cas/sha256/" + digest(small).hash(),
        "p/cas/sha256/" + digest(large).hash());
    assertThat(b.findMissing(List.of(digest(small), digest(large)))).isEmpty();
    assertThat(read(b.open(digest(large), 0).orElseThrow())).isEqualTo(large);
    assertThat(read(b.open(digest(large), 1000).orElseThrow()))
        .isEqualTo(java.util.Arrays.copyOfRange(large, 1000, large.length));
    int gets = bucket.gets.get();
    assertThat(read(b.open(digest(large), 0).orElseThrow())).isEqualTo(large);
    assertThat(bucket.gets.get()).as("the second read is local").isEqualTo(gets);
    int heads = bucket.heads.get();
    assertThat(read(b.openHash(DigestFunction.SHA256, digest(small).hash()).orElseThrow()))
        .isEqualTo(small);
    assertThat(bucket.heads.get()).as("a read by hash alone is one GET, no HEAD").isEqualTo(heads);
    assertThat(b.openHash(DigestFunction.SHA256, digest(bytes(9)).hash())).isEmpty();
  }

  @Test
  void actionCacheObjectOverTheLimit_isAMiss_neverReadIntoMemory() {
    var b = node(dirB, 0);
    var key = new AcKey("", DigestFunction.SHA256, digest(bytes(6)).hash());
    bucket.objects.put("p/ac/_/sha256/" + key.hash(), new FakeBucket.Obj(
        new byte[(int) AcEntry.MAX_SIZE + 1], Map.of("kind", "raw"), Instant.now()));
    assertThat(b.get(key)).isEmpty();
  }

  @Test
  void actionCacheEntry_keepsItsKind_acrossNodes_andInstancesStayApart() {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var key = new AcKey("", DigestFunction.SHA256, digest(bytes(5)).hash());
    var named = new AcKey("team_a/x", DigestFunction.SHA256, key.hash());
    a.put(key, new AcEntry(AcEntry.Kind.RAW, "ccache".getBytes(StandardCharsets.UTF_8)));
    a.put(named, new AcEntry(AcEntry.Kind.ACTION_RESULT, new byte[] {8, 1}));

    var got = b.get(key).orElseThrow();
    assertThat(got.kind()).isEqualTo(AcEntry.Kind.RAW);
    assertThat(got.value()).isEqualTo("ccache".getBytes(StandardCharsets.UTF_8));
    var gotNamed = b.get(named).orElseThrow();
    assertThat(gotNamed.kind()).isEqualTo(AcEntry.Kind.ACTION_RESULT);
    assertThat(gotNamed.value()).containsExactly(8, 1);
    assertThat(bucket.objects).containsKeys("p/ac/_/sha256/" + key.hash(),
        "p/ac/team%5Fa%2Fx/sha256/" + key.hash());
  }

  @Test
  void findMissing_asksTheBucketOnlyForWhatIsNotLocal_inRequestOrder() {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var x = bytes(10);
    var y = bytes(20);
    var z = bytes(30);
    a.put(digest(x), x);
    b.put(digest(y), y);
    int heads = bucket.heads.get();
    var missing = b.findMissing(List.of(digest(z), digest(y), digest(x), digest(new byte[0])));
    assertThat(missing).containsExactly(digest(z));
    assertThat(bucket.heads.get() - heads).as("HEADs for x and z only").isEqualTo(2);
  }

  @Test
  void batchUpload_overlapsTheBucketPuts_eachBlobAcknowledgedOnItsOwnPut() throws Exception {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var blobs = new ArrayList<dev.buckcache.storage.BlobStore.BatchBlob>();
    for (int i = 0; i < 12; i++) {
      var data = bytes(100 + i);
      blobs.add(new dev.buckcache.storage.BlobStore.BatchBlob(digest(data),
          java.nio.ByteBuffer.wrap(data), false));
    }
    var wrong = bytes(50);
    blobs.add(new dev.buckcache.storage.BlobStore.BatchBlob(digest(bytes(50)),
        java.nio.ByteBuffer.wrap(wrong), false));
    bucket.stallCasPuts = new CountDownLatch(1);
    var batch = CompletableFuture.supplyAsync(() -> a.putAll(blobs));
    // s3.max_connections is 8 here: 8 PUTs wait at once, where one after another would be 1.
    await(() -> bucket.waitingPuts.get() == 8, "8 bucket PUTs in flight at once");
    bucket.stallCasPuts.countDown();
    var outcomes = batch.get(20, TimeUnit.SECONDS);
    assertThat(outcomes.subList(0, 12)).containsOnlyNulls();
    assertThat(outcomes.get(12)).isInstanceOf(StorageException.ContentMismatch.class);
    var stored = blobs.subList(0, 12).stream().map(x -> x.digest()).toList();
    assertThat(b.findMissing(stored)).as("every blob of the batch is in the bucket").isEmpty();

    bucket.down = true;
    var more = bytes(70);
    var refused = a.putAll(List.of(new dev.buckcache.storage.BlobStore.BatchBlob(digest(more),
        java.nio.ByteBuffer.wrap(more), false)));
    assertThat(refused.get(0)).isInstanceOf(StorageException.Unavailable.class);
    assertThat(a.findMissing(List.of(digest(more)))).as("unshared: reported missing")
        .containsExactly(digest(more));
  }

  @Test
  void prefetch_fetchesWhatIsNotLocalInParallel_thenReadsAreLocal() throws Exception {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var digests = new ArrayList<Digest>();
    var contents = new ArrayList<byte[]>();
    for (int i = 0; i < 12; i++) {
      var data = bytes(2000 + i);
      a.put(digest(data), data);
      digests.add(digest(data));
      contents.add(data);
    }
    bucket.stallGets = new CountDownLatch(1);
    var prefetch = CompletableFuture.runAsync(() -> b.prefetch(digests));
    await(() -> bucket.waitingGets.get() == 8, "8 bucket GETs in flight at once");
    bucket.stallGets.countDown();
    prefetch.get(20, TimeUnit.SECONDS);
    bucket.stallGets = null;
    int gets = bucket.gets.get();
    for (int i = 0; i < digests.size(); i++) {
      assertThat(b.getBytes(digests.get(i)).orElseThrow()).isEqualTo(contents.get(i));
    }
    assertThat(bucket.gets.get()).as("the reads after the prefetch are local").isEqualTo(gets);
  }

  @Test
  void resumedRead_isARangedGetPassedThrough_andABlobTooBigForTheLocalDiskStillReads()
      throws Exception {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var large = bytes(3 << 20);
    a.put(digest(large), large);

    int gets = bucket.gets.get();
    assertThat(read(b.open(digest(large), 1000).orElseThrow()))
        .isEqualTo(java.util.Arrays.copyOfRange(large, 1000, large.length));
    assertThat(bucket.gets.get()).as("one ranged GET").isEqualTo(gets + 1);
    assertThat(bucket.lastGetOffset).isEqualTo(1000);

    // A node whose local store takes blobs of at most 1 MiB: the 3 MiB one is passed through.
    var local = TieredStore.open(new DiskSettings(dirB.resolve("small").resolve("db"), 256L << 20,
        0.8, true, 1, 64 * 1024), 8L << 20, 1L << 20);
    var settings = new S3Settings(null, "cache", "us-east-1", "p", true, null, 8, 0,
        S3Settings.Durability.SHARED, 100);
    var small = new SharedTier(local, bucket, settings, Clock.systemUTC());
    open.add(local);
    open.add(small);
    assertThat(read(small.open(digest(large), 0).orElseThrow())).isEqualTo(large);
    assertThat(read(small.openHash(DigestFunction.SHA256, digest(large).hash()).orElseThrow()))
        .isEqualTo(large);
  }

  @Test
  void concurrentMisses_fetchOnce() throws Exception {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var blob = bytes(2 << 20);
    a.put(digest(blob), blob);
    bucket.stallGets = new CountDownLatch(1);
    var pool = Executors.newFixedThreadPool(8);
    try {
      var reads = new ArrayList<Future<byte[]>>();
      for (int i = 0; i < 8; i++) {
        reads.add(pool.submit(() -> read(b.open(digest(blob), 0).orElseThrow())));
      }
      // Let every reader reach the fetch before the one GET answers.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (bucket.waitingGets.get() < 1 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      Thread.sleep(200);
      bucket.stallGets.countDown();
      for (var r : reads) {
        assertThat(r.get(30, TimeUnit.SECONDS)).isEqualTo(blob);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(bucket.gets.get()).isEqualTo(1);
  }

  @Test
  void corruptObjectInTheBucket_isAMiss_neverServed() {
    var b = node(dirB, 0);
    var blob = bytes(1000);
    var wrong = blob.clone();
    wrong[500] ^= 1;
    bucket.objects.put("p/cas/sha256/" + digest(blob).hash(), new FakeBucket.Obj(wrong, Map.of(),
        Instant.now()));
    assertThat(b.open(digest(blob), 0)).isEmpty();
    // Present as far as a HEAD can tell; the read is what verifies.
    assertThat(b.open(digest(blob), 0)).isEmpty();
  }

  @Test
  void bucketDown_writesFailClearly_readsOfLocalDataGoOn_andTheRetryAfterRecoveryUploads() {
    var a = node(dirA, 0);
    var b = node(dirB, 0);
    var before = bytes(100);
    a.put(digest(before), before);
    bucket.down = true;

    var blob = bytes(200);
    assertThatThrownBy(() -> a.put(digest(blob), blob))
        .isInstanceOf(StorageException.Unavailable.class)
        .hasMessageStartingWith("shared store fake")
        .hasMessageContaining("not stored in the shared store");
    assertThat(FailureKind.of(new StorageException.Unavailable("x", null)))
        .isEqualTo(FailureKind.UNAVAILABLE);
    assertThat(a.status()).startsWith("degraded: shared store fake");
    assertThat(a.healthy()).isFalse();
    var acKey = new AcKey("", DigestFunction.SHA256, digest(blob).hash());
    assertThatThrownBy(() -> a.put(acKey, new AcEntry(AcEntry.Kind.RAW, new byte[] {1})))
        .isInstanceOf(StorageException.Unavailable.class);
    assertThat(read(a.open(digest(before), 0).orElseThrow())).isEqualTo(before);
    // What failed to reach the bucket counts as missing, so the client uploads it again.
    assertThat(a.findMissing(List.of(digest(blob), digest(before)))).containsExactly(digest(blob));
    assertThat(b.open(digest(blob), 0)).isEmpty();

    bucket.down = false;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!a.healthy() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    assertThat(a.healthy()).as("recovered by the background probe, without a request").isTrue();
    assertThat(a.status()).isEqualTo("ok");
    a.put(digest(blob), blob); // the client's retry: locally present already, uploaded now
    assertThat(a.findMissing(List.of(digest(blob)))).isEmpty();
    assertThat(read(b.open(digest(blob), 0).orElseThrow())).isEqualTo(blob);
  }

  @Test
  void bucketDown_skipsTheBucketWithoutWaitingOnEachRead() {
    var b = node(dirB, 0);
    bucket.down = true;
    var absent = digest(bytes(10));
    assertThat(b.open(absent, 0)).isEmpty(); // the first call finds the outage
    int calls = bucket.calls.get();
    for (int i = 0; i < 100; i++) {
      assertThat(b.open(absent, 0)).isEmpty();
      assertThat(b.findMissing(List.of(absent))).containsExactly(absent);
    }
    assertThat(bucket.calls.get() - calls).as("at most a probe or two, not 200 calls")
        .isLessThanOrEqualTo(3);
  }

  @Test
  void hotObjectOlderThanHalfTheRetention_isRefreshedOnce_coldAndYoungOnesAreNot() throws Exception {
    var now = Instant.now();
    // Six days from now by this node's clock, with a 10-day retention: what was written now is
    // past half of it.
    var a = node(dirA, 10, S3Settings.Durability.SHARED, 100,
        Clock.offset(Clock.systemUTC(), Duration.ofDays(6)));
    var hot = bytes(50);
    var cold = bytes(55);
    var young = bytes(60);
    var hotKey = "p/cas/sha256/" + digest(hot).hash();
    var coldKey = "p/cas/sha256/" + digest(cold).hash();
    bucket.objects.put(hotKey, new FakeBucket.Obj(hot, Map.of(), now));
    bucket.objects.put(coldKey, new FakeBucket.Obj(cold, Map.of(), now));
    bucket.objects.put("p/cas/sha256/" + digest(young).hash(),
        new FakeBucket.Obj(young, Map.of(), now.plus(Duration.ofDays(2))));

    for (int i = 0; i < 5; i++) {
      assertThat(read(a.open(digest(hot), 0).orElseThrow())).isEqualTo(hot);
      assertThat(read(a.open(digest(young), 0).orElseThrow())).isEqualTo(young);
      assertThat(a.findMissing(List.of(digest(hot), digest(young)))).isEmpty();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (a.refreshesQueued() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(bucket.refreshed).containsExactly(hotKey);
    assertThat(bucket.objects.get(hotKey).modified()).isAfter(now);
    assertThat(bucket.objects.get(coldKey).modified()).isEqualTo(now);
  }

  @Test
  void retentionZero_neverRefreshes() throws Exception {
    var a = node(dirA, 0);
    var old = bytes(50);
    var key = "p/cas/sha256/" + digest(old).hash();
    bucket.objects.put(key, new FakeBucket.Obj(old, Map.of(), Instant.EPOCH));
    assertThat(read(a.open(digest(old), 0).orElseThrow())).isEqualTo(old);
    Thread.sleep(100);
    assertThat(bucket.refreshed).isEmpty();
  }

  @Test
  void clockIsInjected() {
    // Guards the constructor contract the server relies on: any clock, no hidden statics.
    var fixed = Clock.fixed(Instant.parse("2030-01-01T00:00:00Z"), ZoneOffset.UTC);
    var local = TieredStore.open(new DiskSettings(dirA, 256L << 20, 0.8, true, 1, 64 * 1024),
        8L << 20, 1L << 40);
    var tier = new SharedTier(local, bucket, new S3Settings(null, "cache", "us-east-1", "", true,
        null, 4, 1, S3Settings.Durability.SHARED, 10), fixed);
    open.add(local);
    open.add(tier);
    bucket.down = true;
    assertThatThrownBy(() -> tier.put(digest(new byte[] {1}), new byte[] {1}))
        .isInstanceOf(StorageException.Unavailable.class);
    assertThat(tier.status()).contains("since 2030-01-01T00:00:00Z");
  }

  /** An in-memory bucket: counts calls, fails while down, stalls GETs on a latch. */
  static final class FakeBucket implements ObjectStore {
    @SuppressWarnings("ArrayRecordComponent") // a byte carrier, never compared
    record Obj(byte[] bytes, Map<String, String> meta, Instant modified) {}

    final Map<String, Obj> objects = new ConcurrentHashMap<>();
    final List<String> refreshed = java.util.Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger gets = new AtomicInteger();
    final AtomicInteger heads = new AtomicInteger();
    final AtomicInteger calls = new AtomicInteger();
    final AtomicInteger waitingGets = new AtomicInteger();
    volatile long lastGetOffset;
    volatile boolean down;
    volatile CountDownLatch stallGets;
    volatile CountDownLatch stallCasPuts;
    final AtomicInteger waitingPuts = new AtomicInteger();
    final List<String> putOrder = java.util.Collections.synchronizedList(new ArrayList<>());

    private void call(String op) {
      calls.incrementAndGet();
      if (down) {
        throw new StorageException.Unavailable("shared store fake: " + op
            + " failed: unreachable: connection refused", null);
      }
    }

    @Override
    public Info head(String key) {
      call("head");
      heads.incrementAndGet();
      var o = objects.get(key);
      return o == null ? null : new Info(o.bytes().length, o.modified(), o.meta());
    }

    @Override
    public Opened get(String key, long offset) {
      call("get");
      gets.incrementAndGet();
      lastGetOffset = offset;
      var latch = stallGets;
      if (latch != null) {
        waitingGets.incrementAndGet();
        try {
          latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      var o = objects.get(key);
      if (o == null) {
        return null;
      }
      return new Opened(new Info(o.bytes().length, o.modified(), o.meta()),
          new ByteArrayInputStream(o.bytes(), (int) offset, o.bytes().length - (int) offset));
    }

    @Override
    public void put(String key, byte[] value, Map<String, String> metadata) {
      call("put");
      objects.put(key, new Obj(value.clone(), Map.copyOf(metadata), Instant.now()));
      putOrder.add(key);
    }

    @Override
    public void put(String key, long length, Source source, Map<String, String> metadata) {
      call("put");
      var latch = stallCasPuts;
      if (latch != null) {
        waitingPuts.incrementAndGet();
        try {
          latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      try (InputStream in = source.open(0)) {
        var bytes = in.readAllBytes();
        assertThat(bytes).hasSize((int) length);
        objects.put(key, new Obj(bytes, Map.copyOf(metadata), Instant.now()));
        putOrder.add(key);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    @Override
    public void delete(String key) {
      call("delete");
      objects.remove(key);
    }

    @Override
    public void refresh(String key, Map<String, String> metadata) {
      call("copy");
      refreshed.add(key);
      var o = objects.get(key);
      var meta = new HashMap<>(metadata);
      meta.put("refreshed", "now");
      objects.put(key, new Obj(o.bytes(), meta, Instant.now()));
    }

    @Override
    public void probe() {
      call("probe");
    }

    @Override
    public String describe() {
      return "fake";
    }

    @Override
    public void close() {}
  }
}
