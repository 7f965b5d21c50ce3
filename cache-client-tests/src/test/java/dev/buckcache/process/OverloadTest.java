package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.DigestFunction;
import dev.buckcache.process.OverloadLoad.Kind;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Overload against a real server process with a 256 MiB heap: up to 500 connections at once mix
 * giant AC and CAS announcements (60 MB promised, nothing or a trickle sent), slow bodies, GETs
 * dropped mid-stream, random methods and header values, gRPC batches of 4 MB and ByteStream
 * writes and reads, some abandoned (see {@link OverloadLoad}). Every criterion is checked and
 * reported, then the test fails naming each one missed:
 * <ul>
 *   <li>no OutOfMemoryError in the server's output, the server alive and healthy;
 *   <li>every request got a status (HTTP 2xx, 4xx, 503, 507; gRPC other than UNKNOWN, INTERNAL,
 *       DATA_LOSS, UNAVAILABLE, DEADLINE_EXCEEDED), or a close the server logged a reason for
 *       (its DEBUG line names the client's port);
 *   <li>within 10 s after the load: uploading bytes, open readers, open writers and in-flight
 *       bytes all 0, {@code du} of the data directory at most max_size, heap after a full GC
 *       within 20% of the baseline taken after a warm-up, no new metric series but the
 *       server's own tag values;
 *   <li>a clean stop without Netty leak reports, then {@code buckcache verify} healthy.
 * </ul>
 *
 * <p>CI runs it for 15 s ({@code buckcache.overload.seconds}, or {@code OVERLOAD_SECONDS});
 * {@code scripts/overload} runs 60 s or longer. The report goes to
 * {@code cache-client-tests/target/overload-report.md}.
 */
class OverloadTest {
  static final long SECONDS = Long.getLong("buckcache.overload.seconds",
      Long.parseLong(System.getenv().getOrDefault("OVERLOAD_SECONDS", "15")));
  static final int CONNECTIONS = Integer.getInteger("buckcache.overload.connections", 500);
  static final int HEAVY = 24;
  static final Duration IDLE = Duration.ofSeconds(5);
  static final Duration SETTLE = Duration.ofSeconds(10);
  static final long MAX_SIZE = 200_000_000;
  static final List<String> GAUGES = List.of("buckcache_store_uploading_bytes",
      "buckcache_store_open_readers", "buckcache_store_open_writers", "buckcache_inflight_bytes");
  static final Pattern PORT = Pattern.compile("127\\.0\\.0\\.1:(\\d+)(?!\\d)");

  @TempDir Path dir;

  /** One pass criterion: what was measured and whether it passed. */
  record Criterion(String name, boolean passed, String detail) {}

  @Test
  void mixedOverload_500Connections_everyRequestAnswered_noLeaks_storeHealthy() throws Exception {
    var data = dir.resolve("data");
    var criteria = new ArrayList<Criterion>();
    var outcomes = new OverloadLoad.Outcomes();
    var warmOutcomes = new OverloadLoad.Outcomes();
    String report;
    try (var server = ServerProcess.serve(Map.of("BUCKCACHE_LOG_LEVEL", "DEBUG"), List.of("-Xmx256m", "-Xlog:gc:file=target/overload-gc.log:uptime,time"),
        data, "--max-size", "200MB", "--memory-size", "4MB", "--http-idle-timeout", IDLE.toSeconds() + "s")) {
      var http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
      var channels = new ArrayList<ManagedChannel>();
      for (int i = 0; i < 8; i++) {
        channels.add(NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext()
            .directExecutor().maxInboundMessageSize(64 << 20).build());
      }
      int port = URI.create(server.http()).getPort();
      var big = uploadBigBlobs(http, server);
      warmUp(http, server);
      var warm = new OverloadLoad(port, channels, IDLE, warmOutcomes, big);
      for (int round = 0; round < 3; round++) { // three of each kind: hits, misses, refusals
        runAll(warm, warm.everyKind());
      }

      long heapBefore = heapAfterGc(server);
      System.out.printf(Locale.ROOT, "overload: warmed up, heap after GC %.1f MB; %d s of load%n",
          heapBefore / 1e6, SECONDS);
      scrape(http, server); // a scrape is counted after it is rendered: the next one shows it
      var seriesBefore = series(scrape(http, server));
      var load = new OverloadLoad(port, channels, IDLE, outcomes, big);
      var peakDu = new AtomicLong();
      var started = Instant.now();
      var sampler = Executors.newSingleThreadScheduledExecutor();
      var unused = sampler.scheduleWithFixedDelay(() -> peakDu.accumulateAndGet(du(data), Math::max),
          0, 1, TimeUnit.SECONDS);
      long unfinished = drive(load);
      sampler.shutdownNow();
      var ended = Instant.now();
      System.out.printf(Locale.ROOT, "overload: load done after %d s; checking%n",
          Duration.between(started, ended).toSeconds());
      for (var c : channels) {
        c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }

      boolean alive = ProcessHandle.of(server.pid()).map(ProcessHandle::isAlive).orElse(false);
      resolveCloses(outcomes, server.output());
      resolveCloses(warmOutcomes, server.output());
      var ooms = server.output().stream().filter(l -> l.contains("OutOfMemoryError")).toList();
      criteria.add(new Criterion("no OutOfMemoryError in the server log", ooms.isEmpty(),
          ooms.isEmpty() ? "none" : ooms.size() + " lines, first: " + ooms.get(0)));
      criteria.add(alive(http, server, alive));
      criteria.add(everyRequestAnswered(outcomes, unfinished));
      if (alive) {
        long settleBy = System.nanoTime() + SETTLE.toNanos();
        criteria.add(measure("gauges settle to 0", () -> gaugesSettle(http, server, settleBy)));
        criteria.add(duSettles(data, settleBy, peakDu.get()));
        criteria.add(measure("heap after GC within 20% of the baseline", () -> {
          long heapAfter = heapAfterGc(server);
          return new Criterion("heap after GC within 20% of the baseline", heapAfter <= heapBefore * 6 / 5,
              String.format(Locale.ROOT, "baseline %.1f MB, after %.1f MB (%+.0f%%)", heapBefore / 1e6,
                  heapAfter / 1e6, 100.0 * (heapAfter - heapBefore) / heapBefore));
        }));
        criteria.add(measure("no metric series beyond the server's own tag values",
            () -> seriesUnchanged(seriesBefore, series(scrape(http, server)))));
        criteria.add(stopsCleanly(server));
      } else {
        for (var name : List.of("gauges settle to 0", "du <= max_size", "heap after GC",
            "metric series unchanged", "clean stop")) {
          criteria.add(new Criterion(name, false, "not measured: the server is not running"));
        }
      }
      server.kill(); // gone before verify takes the store's lock (a no-op after a clean stop)
      Files.write(Path.of("target", "overload-server.log"), server.output());
      criteria.add(verify(data));
      report = report(outcomes, warmOutcomes, criteria, started, ended);
    }
    Files.writeString(Path.of("target", "overload-report.md"), report);
    System.out.println("overload: server log in target/overload-server.log");
    System.out.print(report);
    var failed = criteria.stream().filter(c -> !c.passed()).map(c -> c.name() + ": " + c.detail()).toList();
    assertThat(failed).as("overload criteria missed (report in target/overload-report.md)").isEmpty();
  }

  // ------------------------------------------------------------------------------ phases

  /** Multi-MiB blobs that aborted GETs and ByteStream reads open. */
  static List<byte[]> uploadBigBlobs(HttpClient http, ServerProcess server) throws Exception {
    var blobs = new ArrayList<byte[]>();
    var random = new java.util.Random(7);
    for (int i = 0; i < 8; i++) {
      var b = new byte[(3 << 20) + random.nextInt(5 << 20)];
      random.nextBytes(b);
      put(http, server, b);
      blobs.add(b);
    }
    return blobs;
  }

  /** Fills the 4 MB memory tier (6.4 MB of 32 KiB blobs written and read), before any baseline. */
  static void warmUp(HttpClient http, ServerProcess server) throws Exception {
    var random = new java.util.Random(8);
    for (int i = 0; i < 200; i++) {
      var b = new byte[32 << 10];
      random.nextBytes(b);
      var hash = put(http, server, b);
      http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/" + hash)).build(),
          HttpResponse.BodyHandlers.discarding());
    }
    // An AC miss, store and hit (the load's AC requests may all end in refusals or closes).
    var ac = URI.create(server.http() + "/ac/" + "ab".repeat(32));
    http.send(HttpRequest.newBuilder(ac).build(), HttpResponse.BodyHandlers.discarding());
    http.send(HttpRequest.newBuilder(ac).PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[] {1, 2}))
        .build(), HttpResponse.BodyHandlers.discarding());
    http.send(HttpRequest.newBuilder(ac).build(), HttpResponse.BodyHandlers.discarding());
  }

  static String put(HttpClient http, ServerProcess server, byte[] b) throws Exception {
    var hash = DigestFunction.SHA256.hash(b);
    var r = http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/" + hash))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(b)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("setup PUT: %s", r.body()).isEqualTo(200);
    return hash;
  }

  static void runAll(OverloadLoad load, List<Kind> kinds) throws InterruptedException {
    var pool = Executors.newFixedThreadPool(kinds.size());
    kinds.forEach(k -> pool.execute(() -> load.run(k)));
    pool.shutdown();
    if (!pool.awaitTermination(120, TimeUnit.SECONDS)) {
      pool.shutdownNow();
    }
  }

  /**
   * CONNECTIONS workers pick kinds by weight until the time is up; heavy kinds (big payloads in
   * this JVM) run at most HEAVY at once. Returns how many operations were still running 60 s
   * after the end (each is bounded well below that).
   */
  static long drive(OverloadLoad load) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
    var heavy = new Semaphore(HEAVY);
    var running = new AtomicLong();
    ExecutorService workers = Executors.newFixedThreadPool(CONNECTIONS, r -> {
      var t = new Thread(r, "overload-worker");
      t.setDaemon(true);
      return t;
    });
    int totalWeight = 0;
    for (var k : Kind.values()) {
      totalWeight += k.weight;
    }
    int weights = totalWeight;
    for (int i = 0; i < CONNECTIONS; i++) {
      workers.execute(() -> {
        while (System.nanoTime() < deadline) {
          var kind = pick(ThreadLocalRandom.current().nextInt(weights));
          boolean slot = kind.heavy && heavy.tryAcquire();
          if (kind.heavy && !slot) {
            kind = Kind.GET_ABORTED;
          }
          running.incrementAndGet();
          try {
            load.run(kind);
          } finally {
            running.decrementAndGet();
            if (slot) {
              heavy.release();
            }
          }
        }
      });
    }
    workers.shutdown();
    if (!workers.awaitTermination(SECONDS + 60, TimeUnit.SECONDS)) {
      workers.shutdownNow();
    }
    return running.get();
  }

  static Kind pick(int ticket) {
    for (var k : Kind.values()) {
      ticket -= k.weight;
      if (ticket < 0) {
        return k;
      }
    }
    return Kind.RANDOM;
  }

  /**
   * Each connection the server closed before a status counts as logged if a server line within
   * its lifetime (plus 2 s) names its local port.
   */
  static void resolveCloses(OverloadLoad.Outcomes outcomes, List<String> log) {
    var byPort = new HashMap<Integer, List<Instant>>();
    for (var line : log) {
      Matcher m = PORT.matcher(line);
      if (!m.find()) {
        continue;
      }
      var at = timestamp(line);
      while (true) {
        byPort.computeIfAbsent(Integer.parseInt(m.group(1)), p -> new ArrayList<>()).add(at);
        if (!m.find()) {
          break;
        }
      }
    }
    for (var close : outcomes.closes) {
      var from = close.opened().minusSeconds(1);
      var to = close.closed().plusSeconds(2);
      boolean logged = byPort.getOrDefault(close.port(), List.of()).stream()
          .anyMatch(t -> t == null || (!t.isBefore(from) && !t.isAfter(to)));
      var outcome = logged ? OverloadLoad.CLOSED_LOGGED : OverloadLoad.CLOSED_UNLOGGED;
      outcomes.count(close.kind(), outcome, !logged);
      if (!logged) {
        outcomes.example(outcome, close.kind() + " from port " + close.port() + ", open "
            + close.opened() + " .. " + close.closed());
      }
    }
    outcomes.closes.clear();
  }

  /** The ISO time a server log line starts with, or null (then any time matches). */
  static Instant timestamp(String line) {
    int space = line.indexOf(' ');
    try {
      return space > 0 ? OffsetDateTime.parse(line.substring(0, space)).toInstant() : null;
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  // ------------------------------------------------------------------------------ criteria

  /** Runs a check; one that cannot measure (the server does not answer) is a failure saying so. */
  static Criterion measure(String name, java.util.concurrent.Callable<Criterion> check) {
    try {
      return check.call();
    } catch (Exception e) {
      return new Criterion(name, false, "could not measure: " + e);
    }
  }

  static Criterion alive(HttpClient http, ServerProcess server, boolean alive) {
    if (!alive) {
      return new Criterion("server alive", false, "the process exited; last lines:\n"
          + String.join("\n", tail(server.output(), 20)));
    }
    try {
      int code = http.send(HttpRequest.newBuilder(URI.create(server.http() + "/healthz"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
      return new Criterion("server alive and healthy", code == 200, "/healthz " + code);
    } catch (IOException | InterruptedException e) {
      return new Criterion("server alive and healthy", false, "process runs but /healthz fails: " + e);
    }
  }

  static Criterion everyRequestAnswered(OverloadLoad.Outcomes outcomes, long unfinished) {
    var faults = outcomes.faultCounts();
    long bad = faults.values().stream().mapToLong(Long::longValue).sum() + unfinished;
    var detail = new StringBuilder(bad == 0 ? "every one" : bad + " without one: " + faults);
    if (unfinished > 0) {
      detail.append("; ").append(unfinished).append(" operations still running 60 s after the end");
    }
    outcomes.examples.forEach((outcome, list) -> detail.append("\n    e.g. ").append(outcome)
        .append(": ").append(String.join(" | ", list)));
    return new Criterion("every request got a status or a logged close", bad == 0, detail.toString());
  }

  /** Polls until every gauge reads 0, until {@code deadline}; a missing gauge is a failure. */
  static Criterion gaugesSettle(HttpClient http, ServerProcess server, long deadline) throws Exception {
    Map<String, Double> last;
    do {
      last = gauges(scrape(http, server));
      if (last.values().stream().allMatch(v -> v != null && v == 0)) {
        break;
      }
      Thread.sleep(500);
    } while (System.nanoTime() < deadline);
    var detail = new StringBuilder();
    boolean ok = true;
    for (var g : GAUGES) {
      var v = last.get(g);
      ok &= v != null && v == 0;
      detail.append(detail.length() == 0 ? "" : ", ").append(v == null ? "gauge " + g + " missing"
          : g + " " + String.format(Locale.ROOT, "%.0f", v));
    }
    return new Criterion("within " + SETTLE.toSeconds() + " s: uploading, open readers, open writers,"
        + " in-flight bytes all 0", ok, detail.toString());
  }

  /** Polls {@code du} until it is at most max_size, until {@code deadline} (once at least). */
  static Criterion duSettles(Path data, long deadline, long peak) throws InterruptedException {
    long du = du(data);
    while (du > MAX_SIZE && System.nanoTime() < deadline) {
      Thread.sleep(500);
      du = du(data);
    }
    return new Criterion("within " + SETTLE.toSeconds() + " s: du of the data dir <= max_size ("
        + MAX_SIZE + ")", du >= 0 && du <= MAX_SIZE, "after: " + du + " bytes; peak during load: " + peak);
  }

  static Map<String, Double> gauges(String metrics) {
    var out = new HashMap<String, Double>();
    for (var g : GAUGES) {
      var m = Pattern.compile("(?m)^" + g + "(?:\\{[^}]*\\})? (\\S+)$").matcher(metrics);
      Double sum = null;
      while (m.find()) {
        sum = (sum == null ? 0 : sum) + Double.parseDouble(m.group(1));
      }
      out.put(g, sum);
    }
    return out;
  }

  /** The server's tag values (see CacheMetrics): new series with only these are its own. */
  static final Set<String> OWN_VALUES = Set.of("http", "grpc", "cas", "ac", "other", "hit", "miss",
      "ok", "client_error", "unauthenticated", "denied", "server_error", "cancelled", "in", "out",
      "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
      "GetCapabilities", "FindMissingBlobs", "BatchUpdateBlobs", "BatchReadBlobs", "GetTree",
      "GetActionResult", "UpdateActionResult", "Read", "Write", "QueryWriteStatus", "Check", "Watch",
      "ServerReflectionInfo", "memory", "disk");
  static final Pattern LABEL = Pattern.compile("(\\w+)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  static Criterion seriesUnchanged(Set<String> before, Set<String> after) {
    var added = new TreeSet<>(after);
    added.removeAll(before);
    var clientMade = new TreeSet<String>();
    var own = new TreeSet<String>();
    for (var s : added) {
      (isOwn(s) ? own : clientMade).add(s);
    }
    var detail = String.format(Locale.ROOT, "%d series before, %d after; %d new with the server's "
        + "own tag values%s; %d new otherwise%s", before.size(), after.size(), own.size(),
        own.isEmpty() ? "" : " " + first(own, 8), clientMade.size(),
        clientMade.isEmpty() ? "" : ": " + first(clientMade, 20));
    return new Criterion("no metric series beyond the server's own tag values", clientMade.isEmpty(), detail);
  }

  /**
   * JVM GC meters name the JVM's own causes; buckcache meters may only carry the server's fixed
   * tag values (buckets: numeric {@code le}).
   */
  static boolean isOwn(String series) {
    if (series.startsWith("jvm_gc_")) {
      return true;
    }
    if (!series.startsWith("buckcache_")) {
      return false;
    }
    var m = LABEL.matcher(series);
    while (m.find()) {
      if (!(m.group(1).equals("le") || OWN_VALUES.contains(m.group(2)))) {
        return false;
      }
    }
    return true;
  }

  static Set<String> series(String metrics) {
    var out = new TreeSet<String>();
    for (var line : metrics.lines().toList()) {
      if (!line.isBlank() && !line.startsWith("#")) {
        int space = line.lastIndexOf(' ');
        out.add(space > 0 ? line.substring(0, space) : line);
      }
    }
    return out;
  }

  static Criterion stopsCleanly(ServerProcess server) {
    try {
      server.stopAndCheck();
      return new Criterion("stops cleanly, no Netty leak report", true, "stopped cleanly");
    } catch (AssertionError | InterruptedException e) {
      var lines = String.valueOf(e.getMessage()).lines().toList();
      return new Criterion("stops cleanly, no Netty leak report", false,
          String.join(" / ", lines.subList(0, Math.min(2, lines.size())))
              + (lines.size() > 2 ? " (" + lines.size() + " lines, see the server log)" : ""));
    }
  }

  static Criterion verify(Path data) {
    try {
      return new Criterion("buckcache verify healthy", true, ServerProcess.cli("verify", "--dir", data.toString()));
    } catch (Exception | AssertionError e) {
      return new Criterion("buckcache verify healthy", false, String.join(" / ",
          tail(String.valueOf(e.getMessage()).lines().toList(), 6)));
    }
  }

  // ------------------------------------------------------------------------------ probes

  static String scrape(HttpClient http, ServerProcess server) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(server.http() + "/metrics"))
        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  /**
   * The least of two heap-after-full-GC readings, both from jcmd (GC.run, then GC.heap_info), so
   * a server whose HTTP port no longer answers can still be measured.
   */
  static long heapAfterGc(ServerProcess server) throws Exception {
    long least = Long.MAX_VALUE;
    for (int i = 0; i < 2; i++) {
      jcmd(server, "GC.run");
      var m = HEAP_USED.matcher(jcmd(server, "GC.heap_info"));
      if (!m.find()) {
        throw new IllegalStateException("no heap use in jcmd GC.heap_info");
      }
      least = Math.min(least, Long.parseLong(m.group(1)) * 1024);
    }
    return least;
  }

  static final Pattern HEAP_USED = Pattern.compile("heap\\s+total \\d+K, used (\\d+)K");

  static String jcmd(ServerProcess server, String command) throws Exception {
    var jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    var p = new ProcessBuilder(jcmd, Long.toString(server.pid()), command).redirectErrorStream(true).start();
    var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException("jcmd " + command + " failed: " + out.trim());
    }
    return out;
  }

  /** What {@code du} says the directory occupies, in bytes (blocks, as the disk sees it). */
  static long du(Path dir) {
    try {
      var p = new ProcessBuilder("du", "-s", "--block-size=1", dir.toString())
          .redirectError(ProcessBuilder.Redirect.DISCARD).start();
      var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(30, TimeUnit.SECONDS);
      return Long.parseLong(out.split("\\s", 2)[0]);
    } catch (IOException | InterruptedException | NumberFormatException e) {
      return -1;
    }
  }

  // ------------------------------------------------------------------------------ report

  static String report(OverloadLoad.Outcomes outcomes, OverloadLoad.Outcomes warm,
      List<Criterion> criteria, Instant started, Instant ended) {
    var out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "Overload: %d s, %d connections, server -Xmx256m, max_size "
        + "200MB, idle timeout %d s; load %s .. %s%n%n", SECONDS, CONNECTIONS, IDLE.toSeconds(),
        started, ended));
    out.append("| kind | outcome | count |\n| --- | --- | --- |\n");
    for (var kind : Kind.values()) {
      var byOutcome = new java.util.TreeMap<String, Long>();
      outcomes.counts.getOrDefault(kind, Map.of()).forEach((o, n) -> byOutcome.put(o, n.sum()));
      byOutcome.forEach((o, n) -> out.append(String.format(Locale.ROOT, "| %s | %s%s | %d |%n",
          kind.label, o, outcomes.faults.contains(o) ? " **(fault)**" : "", n)));
    }
    long total = 0;
    for (var kind : Kind.values()) {
      if (kind.weight > 0) {
        total += outcomes.total(kind);
      }
    }
    out.append(String.format(Locale.ROOT, "%n%d operations; warm-up faults: %s%n%n", total,
        warm.faultCounts().isEmpty() ? "none" : warm.faultCounts()));
    out.append("| criterion | result | measured |\n| --- | --- | --- |\n");
    for (var c : criteria) {
      out.append(String.format(Locale.ROOT, "| %s | %s | %s |%n", c.name(), c.passed() ? "pass" : "**FAIL**",
          c.detail().replace("\n", "<br>").replace("|", "\\|")));
    }
    return out.toString();
  }

  static List<String> tail(List<String> lines, int n) {
    return lines.subList(Math.max(0, lines.size() - n), lines.size());
  }

  static String first(Set<String> set, int n) {
    return set.stream().limit(n).toList() + (set.size() > n ? " ..." : "");
  }

}
