package dev.buckcache.insight;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.AcEntry;
import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.ActionCache;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.MissCause;
import dev.buckcache.storage.SideTable;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InvocationLogTest {
  /** A clock tests move by hand. */
  static final class Hand extends Clock {
    Instant now = Instant.parse("2026-12-01T10:00:00Z");

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  private final Hand clock = new Hand();
  private final ConcurrentHashMap<AcKey, AcEntry> entries = new ConcurrentHashMap<>();
  private final ActionCache cache = new ActionCache() {
    @Override
    public Optional<AcEntry> get(AcKey key) {
      return Optional.ofNullable(entries.get(key));
    }

    @Override
    public void put(AcKey key, AcEntry entry) {
      entries.put(key, entry);
    }
  };

  private ActionResults results() {
    return new ActionResults(cache, new dev.buckcache.storage.BlobStore() {
      @Override public boolean contains(dev.buckcache.digest.Digest d) { return true; }
      @Override public List<dev.buckcache.digest.Digest> findMissing(java.util.Collection<dev.buckcache.digest.Digest> d) { return List.of(); }
      @Override public Optional<dev.buckcache.storage.BlobReader> open(dev.buckcache.digest.Digest d, long o) { return Optional.empty(); }
      @Override public dev.buckcache.storage.BlobWriter newWriter(dev.buckcache.digest.Digest d) { throw new UnsupportedOperationException(); }
    });
  }

  private static RequestInfo build(String id) {
    return new RequestInfo("bazel", "4.2.3", id, "", "CppCompile", "//app:main");
  }

  private static InvocationLog.Call lookup(MissCause cause) {
    return new InvocationLog.Call(InvocationLog.Method.GET_ACTION_RESULT,
        cause == null ? InvocationLog.Outcome.OK : InvocationLog.Outcome.NOT_FOUND, 100, 200, 0, 0,
        cause);
  }

  @Test
  void countsOneBuild_lookupsHitsCausesBytesUploads() {
    var log = new InvocationLog(InvocationLog.Settings.DEFAULT, null, clock, results());
    var id = "0f1e2d3c-0000-4000-8000-000000000001";
    log.record(build(id), "ci", lookup(null));
    log.record(build(id), "ci", lookup(MissCause.NEVER_STORED));
    log.record(build(id), "ci", lookup(MissCause.OUTPUTS_EVICTED));
    log.record(build(id), "ci", new InvocationLog.Call(InvocationLog.Method.BATCH_UPDATE,
        InvocationLog.Outcome.OK, 5000, 10, 4, 1, null));
    log.record(build(id), "ci", new InvocationLog.Call(InvocationLog.Method.UPDATE_ACTION_RESULT,
        InvocationLog.Outcome.REFUSED, 0, 0, 0, 0, null));
    log.record(build(id), "ci", new InvocationLog.Call(InvocationLog.Method.READ,
        InvocationLog.Outcome.OK, 50, 7000, 0, 0, null));
    log.record(build(id), "ci", new InvocationLog.Call(InvocationLog.Method.READ,
        InvocationLog.Outcome.ERROR, 50, 0, 0, 0, null));
    log.record(RequestInfo.NONE, "ci", lookup(null)); // names no build: not counted per build
    var v = log.get(id).orElseThrow();
    assertThat(v.tool()).isEqualTo("bazel");
    assertThat(v.subject()).isEqualTo("ci");
    assertThat(v.acLookups()).isEqualTo(3);
    assertThat(v.acHits()).isEqualTo(1);
    assertThat(v.acMisses()).isEqualTo(2);
    assertThat(v.integrityMisses()).isEqualTo(1);
    assertThat(v.missCauses()).containsEntry(MissCause.NEVER_STORED, 1L)
        .containsEntry(MissCause.OUTPUTS_EVICTED, 1L);
    assertThat(v.uploads()).isEqualTo(3);
    assertThat(v.uploadsRefused()).isEqualTo(2);
    assertThat(v.casBytesUp()).isEqualTo(5000);
    assertThat(v.casBytesDown()).isEqualTo(7000);
    assertThat(v.errors()).isEqualTo(1);
    assertThat(v.topMissedMnemonics()).containsExactly(new TopCounts.Count("CppCompile", 2));
    assertThat(log.size()).isEqualTo(1);
    assertThat(log.toolLookups("bazel")).containsExactly(1, 2);
    assertThat(log.toolLookups("other")).containsExactly(1, 0);
    assertThat(InvocationJson.one(v, false)).contains("\"subject\":null", "\"acLookups\":3,");
    assertThat(InvocationJson.one(v, true)).contains("\"subject\":\"ci\"");
  }

  @Test
  void hundredThousandBuilds_keepTheBound_inMemoryAndInTheTable() {
    var table = SideTable.inMemory();
    var settings = new InvocationLog.Settings(1000, Duration.ofDays(7), Duration.ofMinutes(10));
    var finished = new AtomicInteger();
    var log = new InvocationLog(settings, table, clock, results());
    log.onFinished(r -> finished.incrementAndGet());
    for (int i = 0; i < 100_000; i++) {
      clock.now = clock.now.plusMillis(10);
      log.record(build("build-" + i), "ci", lookup(i % 2 == 0 ? null : MissCause.NEVER_STORED));
      if (i % 10_000 == 0) {
        log.flush();
      }
    }
    log.flush();
    assertThat(log.size()).isEqualTo(1000);
    var kept = new ArrayList<String>();
    table.scan("i/".getBytes(java.nio.charset.StandardCharsets.UTF_8), (k, v) -> kept.add(new String(k, java.nio.charset.StandardCharsets.UTF_8)));
    assertThat(kept).hasSize(1000);
    assertThat(log.get("build-99999")).isPresent();
    assertThat(log.get("build-98999")).isEmpty();
    assertThat(log.recent(5, "").get(0).id()).isEqualTo("build-99999");
    assertThat(finished.get()).as("each dropped build's ratio joins the histogram once").isEqualTo(99_000);
  }

  @Test
  void restart_keepsBuildsAndHours_idleBuildsFinishOnce_oldOnesExpire() {
    var table = SideTable.inMemory();
    var settings = new InvocationLog.Settings(100, Duration.ofHours(24), Duration.ofMinutes(10));
    var ratios = new ArrayList<Double>();
    var results = results();
    var log = new InvocationLog(settings, table, clock, results);
    log.onFinished(ratios::add);
    log.record(build("a"), "ci", lookup(null));
    log.record(build("a"), "ci", lookup(MissCause.NEVER_STORED));
    results.get(new AcKey("", DigestFunction.SHA256, "ab".repeat(32))); // an hourly lookup (miss)
    clock.now = clock.now.plus(Duration.ofMinutes(11));
    log.sweep();
    log.sweep();
    assertThat(ratios).containsExactly(0.5);
    log.close();

    var reopened = new InvocationLog(settings, table, clock, results()).start();
    try {
      var v = reopened.get("a").orElseThrow();
      assertThat(v.acLookups()).isEqualTo(2);
      assertThat(v.finished()).isTrue();
      var hours = reopened.hourly();
      assertThat(hours).hasSize(InvocationLog.HOURS);
      assertThat(hours.get(hours.size() - 1).lookups()).isEqualTo(1);
      clock.now = clock.now.plus(Duration.ofHours(25));
      reopened.sweep();
      assertThat(reopened.get("a")).isEmpty();
    } finally {
      reopened.close();
    }
  }

  @Test
  void topCounts_keepTheFrequentNames_inBoundedSpace() {
    var top = new TopCounts(5);
    for (int i = 0; i < 1000; i++) {
      top.add("hot", 1);
      top.add("cold-" + i, 1);
    }
    assertThat(top.size()).isEqualTo(5);
    assertThat(top.top(1).get(0).name()).isEqualTo("hot");
  }

  @Test
  void requestInfo_boundsClientStrings_andLabelsKnownTools() {
    var long1 = "x".repeat(10_000);
    var info = new RequestInfo(long1, long1, long1, long1, long1, long1);
    assertThat(info.invocation()).hasSize(RequestInfo.MAX_ID);
    assertThat(info.target()).hasSize(RequestInfo.MAX_LABEL);
    assertThat(info.toolLabel()).isEqualTo("other");
    assertThat(new RequestInfo("Buck2", "", "", "", "", "").toolLabel()).isEqualTo("buck2");
    assertThat(RequestInfo.parse(new byte[] {(byte) 0xff, 1, 2})).isEqualTo(RequestInfo.NONE);
    var header = build.bazel.remote.execution.v2.RequestMetadata.newBuilder()
        .setToolDetails(build.bazel.remote.execution.v2.ToolDetails.newBuilder().setToolName("pants"))
        .setToolInvocationId("b-1").build().toByteArray();
    assertThat(RequestInfo.parse(header).invocation()).isEqualTo("b-1");
  }
}
