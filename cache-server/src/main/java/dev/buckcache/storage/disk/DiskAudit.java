package dev.buckcache.storage.disk;

import dev.buckcache.storage.StoreKey;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

/**
 * A full scan that checks the disk tier's invariants: for tests after every case, and for an
 * operator who suspects damage. Never on a request path.
 */
public final class DiskAudit {
  private DiskAudit() {}

  /** What the scan found; {@link #problems()} is empty for a healthy store. */
  public record Report(long indexEntries, long logBytes, long countedBytes, List<String> problems) {
    public boolean healthy() {
      return problems.isEmpty();
    }
  }

  /**
   * Scans the store, holding off eviction and copy-forward. Call when no writes are in flight.
   * On a writable store it first waits (up to a minute) for the presence scan that follows open.
   */
  public static Report run(DiskTier tier) {
    if (tier.readOnly()) {
      return scan(tier);
    }
    tier.awaitPresence(java.time.Duration.ofMinutes(1));
    tier.drainRefreshes();
    synchronized (tier.evictor()) {
      return scan(tier);
    }
  }

  private static Report scan(DiskTier tier) {
    var problems = new ArrayList<String>();
    var db = tier.db;
    var logKeys = new HashMap<Long, StoreKey>();
    long logBytes = 0;
    try (var it = db.db.newIterator(db.log)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        logBytes += Keys.logStoredBytes(it.value());
        var k = Keys.logEntryKey(it.value());
        logKeys.put(Keys.seqOf(it.key()), k.length == 0 ? null : StoreKey.wrap(k));
      }
    }
    long counted = tier.head.get() - tier.tail.get();
    if (counted != logBytes) {
      problems.add("accounting says " + counted + " bytes, log records sum to " + logBytes);
    }
    long entries = 0;
    boolean presence = tier.presenceBuilt();
    try (var it = db.db.newIterator(db.index)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        entries++;
        var key = StoreKey.wrap(it.key());
        if (presence && !tier.presence.mayContain(key)) {
          problems.add(key + " is indexed but the presence index says it is absent");
        }
        var meta = EntryMeta.decode(it.value());
        if (!key.equals(logKeys.get(meta.seq()))) {
          problems.add(key + " points at seq " + meta.seq() + " which has no log record for it");
        }
        checkChunks(tier, key, meta, problems);
      }
    }
    if (entries != tier.entries.get()) {
      problems.add("entry counter says " + tier.entries.get() + ", index holds " + entries);
    }
    if (presence && tier.presence.size() != entries) {
      problems.add("presence index holds " + tier.presence.size() + " keys, index holds " + entries);
    }
    var pendingSeqs = new java.util.HashSet<Long>();
    try (var it = db.db.newIterator(db.pending)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        pendingSeqs.add(Keys.seqOf(it.key()));
      }
    }
    for (long seq : tier.files.seqs()) {
      if (!logKeys.containsKey(seq) && !pendingSeqs.contains(seq)) {
        problems.add("blob file " + tier.files.path(seq) + " belongs to no entry (leaked)");
      }
    }
    try (var it = db.db.newIterator(db.pending)) {
      it.seekToFirst();
      // Read-only (verify): a pending record is an upload a crash interrupted; the next normal
      // open reclaims it, so it is not damage.
      if (it.isValid() && tier.pendingSeqs.isEmpty() && !tier.readOnly()) {
        problems.add("pending record for seq " + Keys.seqOf(it.key()) + " with no upload running");
      }
    }
    return new Report(entries, logBytes, counted, problems);
  }

  private static void checkChunks(DiskTier tier, StoreKey key, EntryMeta meta, List<String> out) {
    if (meta.inFile()) {
      try {
        long length = java.nio.file.Files.size(tier.files.path(meta.seq()));
        if (length != meta.size()) {
          out.add(key + ": its file holds " + length + " bytes, index says " + meta.size());
          return;
        }
      } catch (java.io.IOException e) {
        out.add(key + ": its file is missing (" + e.getMessage() + ")");
        return;
      }
    }
    try (var stream = tier.stream(new DiskTier.Entry(key, meta), 0)) {
      if (stream == null) {
        out.add(key + ": first chunk missing");
        return;
      }
      long total = 0;
      var hasher = key.isCas() ? key.function().newHasher() : null;
      for (var raw = stream.nextRaw(); raw != null; raw = stream.nextRaw()) {
        total += raw.length;
        if (hasher != null) {
          hasher.update(raw, 0, raw.length);
        }
      }
      if (total != meta.size()) {
        out.add(key + ": chunks hold " + total + " bytes, index says " + meta.size());
      } else if (hasher != null
          && !java.util.Arrays.equals(hasher.finish(), key.hashBytes())) {
        out.add(key + ": content does not match its hash");
      }
    } catch (RuntimeException e) {
      out.add(key + ": " + e.getMessage());
    }
  }
}
