package dev.buckcache.server;

import dev.buckcache.storage.StoreStats;
import java.time.Duration;
import java.time.Instant;

/**
 * The {@code /status} document: bazel-remote's field names (CurrSize, MaxSize, NumFiles,
 * ServerTime) for tools that read them, plus buckcache's own counters.
 */
final class StatusJson {
  private StatusJson() {}

  static String render(StoreStats s, long inflightBytes, Instant started, Instant now,
      String version) {
    return render(s, inflightBytes, started, now, version, null);
  }

  /** @param shared the shared tier's state ({@code ok} or {@code degraded: ...}), or null */
  static String render(StoreStats s, long inflightBytes, Instant started, Instant now,
      String version, String shared) {
    var d = s.disk();
    long hits = s.memoryHits() + s.diskHits();
    long lookups = hits + s.misses();
    return "{"
        + field("CurrSize", d.usedBytes()) + ","
        + field("MaxSize", d.maxBytes()) + ","
        + field("NumFiles", d.entries()) + ","
        + field("ServerTime", now.getEpochSecond()) + ","
        + "\"Version\":\"" + version + "\","
        + field("UptimeSeconds", Duration.between(started, now).toSeconds()) + ","
        + field("BudgetBytes", d.budgetBytes()) + ","
        + field("UploadingBytes", d.uploadingBytes()) + ","
        + field("OpenReaders", s.openReaders()) + ","
        + field("OpenWriters", s.openWriters()) + ","
        + field("InflightBytes", inflightBytes) + ","
        + field("Evictions", d.evictedEntries()) + ","
        + field("EvictedBytes", d.evictedBytes()) + ","
        + field("MemoryEntries", s.memoryEntries()) + ","
        + field("MemoryBytes", s.memoryBytes()) + ","
        + field("MemoryHits", s.memoryHits()) + ","
        + field("DiskHits", s.diskHits()) + ","
        + field("Misses", s.misses()) + ","
        + "\"HitRatio\":" + (lookups == 0 ? "0" : String.format(java.util.Locale.ROOT, "%.4f",
            (double) hits / lookups))
        + (shared == null ? "" : ",\"SharedStore\":\"" + jsonEscape(shared) + "\"")
        + "}\n";
  }

  private static String field(String name, long value) {
    return "\"" + name + "\":" + value;
  }

  private static String jsonEscape(String text) {
    var out = new StringBuilder(text.length() + 8);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> {
          if (c < 0x20) {
            out.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.toString();
  }
}
