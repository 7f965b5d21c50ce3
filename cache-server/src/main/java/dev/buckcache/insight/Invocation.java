package dev.buckcache.insight;

import dev.buckcache.storage.MissCause;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.List;

/**
 * One build's use of the cache, as its client's invocation id groups it. Its counters change
 * under its own lock; {@link #view} takes a consistent copy. About 1 KB in memory typically, at
 * most about 9 KB (every string at its bound and both top lists full).
 */
public final class Invocation {
  /** Names kept per top list (Space-Saving), and names shown. */
  static final int TOP_KEPT = 20;
  static final int TOP_SHOWN = 10;
  private static final byte VERSION = 1;

  final String id;
  private final String tool;
  private final String toolVersion;
  private final String subject;
  private final long started;
  private long lastSeen;
  private long acLookups;
  private long acHits;
  private long acMisses;
  private long casBytesDown;
  private long casBytesUp;
  private long uploads;
  private long uploadsRefused;
  private long errors;
  private final java.util.EnumMap<MissCause, Long> causes = new java.util.EnumMap<>(MissCause.class);
  private final TopCounts mnemonics = new TopCounts(TOP_KEPT);
  private final TopCounts targets = new TopCounts(TOP_KEPT);
  private boolean finished;

  Invocation(String id, String tool, String toolVersion, String subject, long started) {
    this.id = id;
    this.tool = tool;
    this.toolVersion = toolVersion;
    this.subject = subject;
    this.started = started;
    this.lastSeen = started;
  }

  /** A consistent copy of this invocation's counters. */
  public record View(String id, String tool, String toolVersion, String subject, Instant started,
      Instant lastSeen, long acLookups, long acHits, long acMisses, long integrityMisses,
      long casBytesDown, long casBytesUp, long uploads, long uploadsRefused, long errors,
      java.util.Map<MissCause, Long> missCauses, List<TopCounts.Count> topMissedMnemonics,
      List<TopCounts.Count> topMissedTargets, boolean finished) {
    public double hitRatio() {
      return acLookups == 0 ? 0 : (double) acHits / acLookups;
    }
  }

  synchronized void seen(long now) {
    lastSeen = Math.max(lastSeen, now);
  }

  synchronized void acLookup(MissCause cause, String mnemonic, String target) {
    acLookups++;
    if (cause == null) {
      acHits++;
      return;
    }
    acMisses++;
    causes.merge(cause, 1L, Long::sum);
    if (!mnemonic.isEmpty()) {
      mnemonics.add(mnemonic, 1);
    }
    if (!target.isEmpty()) {
      targets.add(target, 1);
    }
  }

  synchronized void transferred(long down, long up) {
    casBytesDown += down;
    casBytesUp += up;
  }

  synchronized void uploads(long stored, long refused) {
    uploads += stored;
    uploadsRefused += refused;
  }

  synchronized void error() {
    errors++;
  }

  synchronized long lastSeen() {
    return lastSeen;
  }

  long started() {
    return started;
  }

  /** Marks it finished; true the first time (when its hit ratio joins the histogram). */
  synchronized boolean finish() {
    if (finished) {
      return false;
    }
    finished = true;
    return true;
  }

  synchronized View view() {
    return new View(id, tool, toolVersion, subject, Instant.ofEpochMilli(started),
        Instant.ofEpochMilli(lastSeen), acLookups, acHits, acMisses,
        causes.getOrDefault(MissCause.OUTPUTS_EVICTED, 0L), casBytesDown, casBytesUp, uploads,
        uploadsRefused, errors, java.util.Map.copyOf(causes), mnemonics.top(TOP_SHOWN), targets.top(TOP_SHOWN),
        finished);
  }

  // ---------------------------------------------------------------------------------- persistence

  synchronized byte[] encode() {
    var bytes = new ByteArrayOutputStream(256);
    try (var out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      out.writeUTF(id);
      out.writeUTF(tool);
      out.writeUTF(toolVersion);
      out.writeUTF(subject);
      for (long v : new long[] {started, lastSeen, acLookups, acHits, acMisses, casBytesDown,
          casBytesUp, uploads, uploadsRefused, errors}) {
        out.writeLong(v);
      }
      out.writeByte(causes.size());
      for (var c : causes.entrySet()) {
        out.writeUTF(c.getKey().label());
        out.writeLong(c.getValue());
      }
      out.writeBoolean(finished);
      for (var top : List.of(mnemonics, targets)) {
        var all = top.top(TOP_KEPT);
        out.writeByte(all.size());
        for (var c : all) {
          out.writeUTF(c.name());
          out.writeLong(c.count());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** The invocation {@link #encode} wrote, or null for a record this version cannot read. */
  static Invocation decode(byte[] bytes) {
    try (var in = new DataInputStream(new ByteArrayInputStream(bytes))) {
      if (in.readByte() != VERSION) {
        return null;
      }
      var inv = new Invocation(in.readUTF(), in.readUTF(), in.readUTF(), in.readUTF(),
          in.readLong());
      inv.lastSeen = in.readLong();
      inv.acLookups = in.readLong();
      inv.acHits = in.readLong();
      inv.acMisses = in.readLong();
      inv.casBytesDown = in.readLong();
      inv.casBytesUp = in.readLong();
      inv.uploads = in.readLong();
      inv.uploadsRefused = in.readLong();
      inv.errors = in.readLong();
      int n = in.readByte();
      for (int i = 0; i < n; i++) {
        var label = in.readUTF();
        long c = in.readLong();
        for (var cause : MissCause.values()) {
          if (cause.label().equals(label)) {
            inv.causes.put(cause, c);
          }
        }
      }
      inv.finished = in.readBoolean();
      for (var top : List.of(inv.mnemonics, inv.targets)) {
        int k = in.readByte();
        for (int i = 0; i < k; i++) {
          top.add(in.readUTF(), in.readLong());
        }
      }
      return inv;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
