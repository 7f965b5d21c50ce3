package dev.buckcache.insight;

import static java.util.Objects.requireNonNull;

import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.MissCause;
import dev.buckcache.storage.SideTable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-build cache statistics: each REAPI call that names its build ({@code tool_invocation_id} in
 * RequestMetadata) counts towards that build's lookups, hits, misses by cause, bytes and uploads.
 * HTTP clients name no build and are left out (they count in the global metrics only).
 *
 * <p>Design notes. Bounded: the last {@code maxInvocations} builds, and none last seen longer than
 * {@code retention} ago, whichever is fewer; the oldest go first. A build is finished once idle
 * for {@code idle}; its hit ratio then joins the {@code buckcache_invocation_hit_ratio} histogram
 * once. The hourly action-cache lookups and hits of the last 7 days (both protocols) are kept
 * beside them. Everything is written to the store's side table every {@link #FLUSH} (only what
 * changed) and on close, so a restart keeps it; a crash loses at most one flush interval.
 */
public final class InvocationLog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(InvocationLog.class);
  static final Duration FLUSH = Duration.ofSeconds(10);
  static final int HOURS = 7 * 24;
  private static final byte[] INVOCATIONS = bytes("i/");
  private static final byte[] HOURLY = bytes("h/");
  private static final byte[] FUNCTIONS = bytes("f/");

  /** The bounds: how many builds, for how long, and when an idle one counts as finished. */
  public record Settings(int maxInvocations, Duration retention, Duration idle) {
    public static final Settings DEFAULT =
        new Settings(10_000, Duration.ofDays(7), Duration.ofMinutes(10));

    public Settings {
      if (maxInvocations < 1) {
        throw new IllegalArgumentException("maxInvocations must be at least 1");
      }
      requireNonNull(retention, "retention");
      requireNonNull(idle, "idle");
    }
  }

  /** The REAPI methods that count, as the gRPC front end names them. */
  public enum Method { GET_ACTION_RESULT, UPDATE_ACTION_RESULT, BATCH_UPDATE, BATCH_READ, READ,
    WRITE, OTHER }

  /** How a call ended, from the build's point of view. */
  public enum Outcome { OK, NOT_FOUND, REFUSED, ERROR, CANCELLED }

  /**
   * One finished call.
   *
   * @param items blobs in a batch upload (1 for other uploads)
   * @param rejected of those, refused
   * @param cause why a GetActionResult missed (null on a hit or for other methods)
   */
  public record Call(Method method, Outcome outcome, long bytesIn, long bytesOut, int items,
      int rejected, MissCause cause) {}

  private final Settings settings;
  private final SideTable table;
  private final Clock clock;
  private final ActionResults results;
  private final ConcurrentHashMap<String, Invocation> byId = new ConcurrentHashMap<>();
  /** Every invocation in byId, in the order it was first seen (oldest first). */
  private final ConcurrentLinkedDeque<Invocation> order = new ConcurrentLinkedDeque<>();
  private final java.util.Set<Invocation> dirty = ConcurrentHashMap.newKeySet();
  private final ConcurrentLinkedDeque<String> removed = new ConcurrentLinkedDeque<>();
  private final long[][] hourly = new long[HOURS][3]; // hour, lookups, hits; guarded by itself
  private final Map<String, LongAdder[]> byTool = new ConcurrentHashMap<>();
  private volatile DoubleConsumer finishedRatio = r -> {};
  private volatile boolean hourlyDirty;
  /** The hour of the last flush that wrote hourly counts (under the flush lock). */
  private long flushedHour;
  private ScheduledExecutorService timer;

  public InvocationLog(Settings settings, SideTable table, Clock clock, ActionResults results) {
    this.settings = requireNonNull(settings, "settings");
    this.table = table;
    this.clock = requireNonNull(clock, "clock");
    this.results = requireNonNull(results, "results");
    for (var tool : RequestInfo.TOOLS) {
      byTool.put(tool, new LongAdder[] {new LongAdder(), new LongAdder()});
    }
    results.observe(this::looked);
  }

  /** Loads what the side table holds and starts the periodic flush and sweep. */
  public InvocationLog start() {
    if (table != null) {
      load();
    }
    timer = Executors.newSingleThreadScheduledExecutor(r -> {
      var t = new Thread(r, "buckcache-insight");
      t.setDaemon(true);
      return t;
    });
    var unused = timer.scheduleWithFixedDelay(this::tick, FLUSH.toMillis(), FLUSH.toMillis(),
        TimeUnit.MILLISECONDS);
    return this;
  }

  /** Called with each finished build's hit ratio (for the histogram). */
  public void onFinished(DoubleConsumer consumer) {
    this.finishedRatio = requireNonNull(consumer, "consumer");
  }

  // ---------------------------------------------------------------------------------- recording

  /** Counts one call towards its build; a call that names no build is not counted. */
  public void record(RequestInfo info, String subject, Call call) {
    var tool = info.toolLabel();
    if (call.method() == Method.GET_ACTION_RESULT
        && (call.outcome() == Outcome.OK || call.outcome() == Outcome.NOT_FOUND)) {
      byTool.get(tool)[call.outcome() == Outcome.OK ? 0 : 1].increment();
    }
    if (info.invocation().isEmpty()) {
      return;
    }
    var inv = invocation(info, subject);
    inv.seen(clock.millis());
    switch (call.method()) {
      case GET_ACTION_RESULT -> {
        if (call.outcome() == Outcome.OK) {
          inv.acLookup(null, "", "");
        } else if (call.outcome() == Outcome.NOT_FOUND) {
          inv.acLookup(call.cause() == null ? MissCause.NEVER_STORED : call.cause(),
              info.mnemonic(), info.target());
        }
      }
      case UPDATE_ACTION_RESULT, WRITE -> {
        if (call.outcome() == Outcome.OK) {
          inv.uploads(1, 0);
        } else if (call.outcome() == Outcome.REFUSED) {
          inv.uploads(0, 1);
        }
        if (call.method() == Method.WRITE) {
          inv.transferred(0, call.bytesIn());
        }
      }
      case BATCH_UPDATE -> {
        if (call.outcome() == Outcome.REFUSED) {
          inv.uploads(0, Math.max(1, call.items()));
        } else if (call.outcome() == Outcome.OK) {
          inv.uploads(call.items() - call.rejected(), call.rejected());
        }
        inv.transferred(0, call.bytesIn());
      }
      case READ, BATCH_READ -> inv.transferred(call.bytesOut(), 0);
      case OTHER -> { }
    }
    if (call.outcome() == Outcome.ERROR) {
      inv.error();
    }
    dirty.add(inv);
  }

  private Invocation invocation(RequestInfo info, String subject) {
    var existing = byId.get(info.invocation());
    if (existing != null) {
      return existing;
    }
    var created = new Invocation(info.invocation(), info.tool(), info.toolVersion(),
        subject == null ? "" : subject, clock.millis());
    var raced = byId.putIfAbsent(created.id, created);
    if (raced != null) {
      return raced;
    }
    order.addLast(created);
    while (byId.size() > settings.maxInvocations()) {
      var oldest = order.pollFirst();
      if (oldest == null) {
        break;
      }
      drop(oldest);
    }
    return created;
  }

  private void drop(Invocation inv) {
    if (byId.remove(inv.id, inv)) {
      finish(inv);
      dirty.remove(inv);
      removed.add(inv.id);
    }
  }

  private void finish(Invocation inv) {
    if (inv.finish()) {
      var v = inv.view();
      if (v.acLookups() > 0) {
        finishedRatio.accept(v.hitRatio());
      }
      dirty.add(inv);
    }
  }

  /** Every action-cache lookup, both protocols: the hourly series. */
  private void looked(AcKey key, MissCause cause) {
    long hour = clock.millis() / 3_600_000L;
    synchronized (hourly) {
      var slot = hourly[(int) (hour % HOURS)];
      if (slot[0] != hour) {
        slot[0] = hour;
        slot[1] = 0;
        slot[2] = 0;
      }
      slot[1]++;
      if (cause == null) {
        slot[2]++;
      }
    }
    hourlyDirty = true;
  }

  // ---------------------------------------------------------------------------------- views

  /** The newest first: by when each build was last seen. {@code tool} empty for all. */
  public List<Invocation.View> recent(int limit, String tool) {
    var views = new ArrayList<Invocation.View>();
    for (var inv : byId.values()) {
      var v = inv.view();
      if (tool.isEmpty() || v.tool().equalsIgnoreCase(tool)) {
        views.add(v);
      }
    }
    views.sort(Comparator.comparing(Invocation.View::lastSeen).reversed()
        .thenComparing(Invocation.View::id));
    return views.subList(0, Math.min(limit, views.size()));
  }

  public Optional<Invocation.View> get(String id) {
    return Optional.ofNullable(byId.get(id)).map(Invocation::view);
  }

  /** Builds held now. */
  public int size() {
    return byId.size();
  }

  /** One hour of action-cache lookups (both protocols). */
  public record Hour(long epochHour, long lookups, long hits) {}

  /** The last 7 days, oldest first, one entry per hour (zeros where nothing was looked up). */
  public List<Hour> hourly() {
    long now = clock.millis() / 3_600_000L;
    var out = new ArrayList<Hour>(HOURS);
    synchronized (hourly) {
      for (long h = now - HOURS + 1; h <= now; h++) {
        var slot = hourly[(int) (h % HOURS)];
        out.add(slot[0] == h ? new Hour(h, slot[1], slot[2]) : new Hour(h, 0, 0));
      }
    }
    return out;
  }

  /** Lookups by tool label since start: {hits, misses}. */
  public long[] toolLookups(String tool) {
    var c = byTool.get(tool);
    return c == null ? new long[2] : new long[] {c[0].sum(), c[1].sum()};
  }

  // ---------------------------------------------------------------------------------- upkeep

  private void tick() {
    try {
      sweep();
      flush();
    } catch (RuntimeException e) {
      log.warn("keeping build statistics failed: {}", e.toString());
    }
  }

  /** Finishes idle builds and drops those past retention. */
  void sweep() {
    long now = clock.millis();
    long idleBefore = now - settings.idle().toMillis();
    long expiredBefore = now - settings.retention().toMillis();
    for (var inv : byId.values()) {
      long seen = inv.lastSeen();
      if (seen < expiredBefore) {
        order.remove(inv);
        drop(inv);
      } else if (seen < idleBefore) {
        finish(inv);
      }
    }
  }

  /** Writes what changed since the last flush to the side table. */
  public synchronized void flush() {
    if (table == null) {
      dirty.clear();
      removed.clear();
      return;
    }
    var puts = new ArrayList<Map.Entry<byte[], byte[]>>();
    var deletes = new ArrayList<byte[]>();
    for (var it = dirty.iterator(); it.hasNext(); ) {
      var inv = it.next();
      it.remove();
      if (byId.get(inv.id) == inv) {
        puts.add(Map.entry(concat(INVOCATIONS, bytes(inv.id)), inv.encode()));
      }
    }
    for (String id; (id = removed.poll()) != null; ) {
      deletes.add(concat(INVOCATIONS, bytes(id)));
    }
    if (hourlyDirty) {
      hourlyDirty = false;
      long since = flushedHour; // only the hours counted since the last flush changed
      flushedHour = clock.millis() / 3_600_000L;
      synchronized (hourly) {
        for (var slot : hourly) {
          if (slot[1] > 0 && slot[0] >= since) {
            puts.add(Map.entry(concat(HOURLY, ByteBuffer.allocate(8).putLong(slot[0]).array()),
                ByteBuffer.allocate(16).putLong(slot[1]).putLong(slot[2]).array()));
          }
        }
      }
      results.functionsStored().forEach((instance, bits) -> puts.add(Map.entry(
          concat(FUNCTIONS, bytes(instance)), ByteBuffer.allocate(4).putInt(bits).array())));
    }
    if (!puts.isEmpty() || !deletes.isEmpty()) {
      table.write(puts, deletes);
    }
  }

  private void load() {
    var loaded = new ArrayList<Invocation>();
    var stale = new ArrayList<byte[]>();
    table.scan(INVOCATIONS, (k, v) -> {
      var inv = Invocation.decode(v);
      if (inv == null) {
        stale.add(k);
      } else {
        loaded.add(inv);
      }
    });
    loaded.sort(Comparator.comparingLong(Invocation::started));
    long expiredBefore = clock.millis() - settings.retention().toMillis();
    int skip = Math.max(0, loaded.size() - settings.maxInvocations());
    for (int i = 0; i < loaded.size(); i++) {
      var inv = loaded.get(i);
      if (i < skip || inv.lastSeen() < expiredBefore) {
        stale.add(concat(INVOCATIONS, bytes(inv.id)));
        continue;
      }
      byId.put(inv.id, inv);
      order.addLast(inv);
    }
    long now = clock.millis() / 3_600_000L;
    table.scan(HOURLY, (k, v) -> {
      long hour = ByteBuffer.wrap(k, HOURLY.length, 8).getLong();
      if (hour > now - HOURS && hour <= now && v.length == 16) {
        var b = ByteBuffer.wrap(v);
        var slot = hourly[(int) (hour % HOURS)];
        slot[0] = hour;
        slot[1] = b.getLong();
        slot[2] = b.getLong();
      } else {
        stale.add(k);
      }
    });
    var functions = new HashMap<String, Integer>();
    table.scan(FUNCTIONS, (k, v) -> functions.put(
        new String(k, FUNCTIONS.length, k.length - FUNCTIONS.length, StandardCharsets.UTF_8),
        ByteBuffer.wrap(v).getInt()));
    results.restoreFunctionsStored(functions);
    if (!stale.isEmpty()) {
      table.write(List.of(), stale);
    }
    if (!byId.isEmpty()) {
      log.info("build statistics: {} recent builds kept from before the restart", byId.size());
    }
  }

  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
    try {
      flush();
    } catch (RuntimeException e) {
      log.warn("saving build statistics failed: {}", e.toString());
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    var out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
