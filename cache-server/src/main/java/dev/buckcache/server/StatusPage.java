package dev.buckcache.server;

import dev.buckcache.config.Sizes;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.StoreStats;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

/**
 * The human status page at {@code /}: hit ratios, stored vs max, entries, evictions, uptime.
 * One self-contained HTML document (no external assets), refreshing itself every 10 s.
 */
final class StatusPage {
  private StatusPage() {}

  static String render(StoreStats s, ActionResults ac, Instant started, Instant now, String version,
      String endpoints) {
    return render(s, ac, started, now, version, endpoints, null);
  }

  /** With {@code builds}, also the recent builds and the hourly hit rate of the last 7 days. */
  static String render(StoreStats s, ActionResults ac, Instant started, Instant now, String version,
      String endpoints, dev.buckcache.insight.InvocationLog builds) {
    var d = s.disk();
    long casHits = s.memoryHits() + s.diskHits();
    double casRatio = ratio(casHits, s.misses());
    double acRatio = ratio(ac.hits(), ac.misses());
    double fill = d.maxBytes() == 0 ? 0 : (double) d.usedBytes() / d.maxBytes();
    var up = Duration.between(started, now);
    return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta http-equiv="refresh" content="10">
        <title>buckcache status</title>
        <style>
          body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; background: #f6f7f9; }
          h1 { font-size: 1.4rem; margin: 0 0 .2rem; } .sub { color: #5b6472; margin-bottom: 1.5rem; }
          .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); gap: 1rem; }
          .card { background: #fff; border-radius: .6rem; padding: 1rem 1.2rem; box-shadow: 0 1px 3px #0002; }
          .label { color: #5b6472; font-size: .85rem; text-transform: uppercase; letter-spacing: .04em; }
          .big { font-size: 2.2rem; font-weight: 600; margin: .3rem 0; }
          .bar { height: .7rem; background: #e3e6eb; border-radius: .35rem; overflow: hidden; }
          .bar > div { height: 100%%; background: %s; }
          .ok { color: #1a7f37; } .warn { color: #b35900; } .bad { color: #c62828; }
          h2 { font-size: 1.1rem; margin: 2rem 0 .6rem; }
          table { border-collapse: collapse; width: 100%%; background: #fff; border-radius: .6rem;
            box-shadow: 0 1px 3px #0002; font-size: .9rem; }
          th, td { text-align: left; padding: .45rem .7rem; border-bottom: 1px solid #e3e6eb; }
          th { color: #5b6472; font-weight: 500; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
          .chart { background: #fff; border-radius: .6rem; box-shadow: 0 1px 3px #0002; padding: .8rem; }
        </style></head><body>
        <h1>buckcache <span class="%s">● %s</span></h1>
        <div class="sub">version %s · up %s · %s</div>
        <div class="grid">
          <div class="card"><div class="label">Action-cache hit ratio</div>
            <div class="big %s" id="ac-hit-ratio">%s</div>%d hits, %d misses</div>
          <div class="card"><div class="label">CAS hit ratio</div>
            <div class="big" id="cas-hit-ratio">%s</div>%d hits (%d from memory), %d misses</div>
          <div class="card"><div class="label">Stored</div>
            <div class="big" id="stored">%s</div>
            <div class="bar"><div style="width:%.1f%%"></div></div>of %s max · eviction at %s</div>
          <div class="card"><div class="label">Entries</div>
            <div class="big" id="entries">%,d</div>%,d evicted (%s) · %d in memory</div>
        </div>%s</body></html>
        """.formatted(fill > 0.97 ? "#c62828" : "#2f6feb",
            health(acRatio, ac.hits() + ac.misses()), healthText(acRatio, ac.hits() + ac.misses()),
            esc(version), human(up), esc(endpoints),
            health(acRatio, ac.hits() + ac.misses()), percent(acRatio, ac.hits() + ac.misses()),
            ac.hits(), ac.misses(),
            percent(casRatio, casHits + s.misses()), casHits, s.memoryHits(), s.misses(),
            Sizes.format(d.usedBytes()), fill * 100, Sizes.format(d.maxBytes()),
            Sizes.format(d.budgetBytes()),
            d.entries(), d.evictedEntries(), Sizes.format(d.evictedBytes()), s.memoryEntries(),
            builds == null ? "" : builds(builds));
  }

  /** The "Recent builds" table (REAPI clients that name their build) and the hourly chart. */
  static String builds(dev.buckcache.insight.InvocationLog log) {
    var out = new StringBuilder();
    out.append("\n<h2>Action-cache hit rate per hour, last 7 days</h2>\n<div class=\"chart\">")
        .append(HourlyChart.svg(log.hourly())).append("</div>\n");
    out.append("<h2>Recent builds</h2>\n");
    var recent = log.recent(20, "");
    if (recent.isEmpty()) {
      out.append("<p id=\"no-builds\">No builds yet: REAPI clients (Buck2, Bazel, Pants) appear "
          + "here once they name their build in RequestMetadata.</p>\n");
      return out.toString();
    }
    out.append("<table id=\"recent-builds\"><tr><th>Build</th><th>Tool</th><th>Last seen</th>"
        + "<th class=n>Lookups</th><th class=n>Hits</th><th class=n>Misses</th>"
        + "<th class=n>Hit rate</th><th class=n>Outputs evicted</th><th class=n>Down</th>"
        + "<th class=n>Up</th><th class=n>Uploads refused</th></tr>\n");
    for (var v : recent) {
      out.append("<tr data-id=\"").append(esc(v.id())).append("\"><td><code>")
          .append(esc(v.id().length() > 13 ? v.id().substring(0, 13) + "…" : v.id()))
          .append("</code></td><td>").append(esc(v.tool()))
          .append(v.toolVersion().isEmpty() ? "" : " " + esc(v.toolVersion())).append("</td><td>")
          .append(v.lastSeen().toString().replace('T', ' ').replaceAll("\\.\\d+Z$|Z$", " UTC"))
          .append("</td><td class=n>").append(v.acLookups())
          .append("</td><td class=n>").append(v.acHits())
          .append("</td><td class=n>").append(v.acMisses())
          .append("</td><td class=\"n ").append(health(v.hitRatio(), v.acLookups())).append("\">")
          .append(percent(v.hitRatio(), v.acLookups()))
          .append("</td><td class=n>").append(v.integrityMisses())
          .append("</td><td class=n>").append(Sizes.format(v.casBytesDown()))
          .append("</td><td class=n>").append(Sizes.format(v.casBytesUp()))
          .append("</td><td class=n>").append(v.uploadsRefused()).append("</td></tr>\n");
    }
    return out.append("</table>\n").toString();
  }

  private static double ratio(long hits, long misses) {
    return hits + misses == 0 ? 0 : (double) hits / (hits + misses);
  }

  private static String percent(double r, long n) {
    return n == 0 ? "–" : String.format(Locale.ROOT, "%.1f%%", r * 100);
  }

  /** Operators aim for 70%+ and worry under 50%. */
  private static String health(double r, long n) {
    return n == 0 || r >= 0.7 ? "ok" : r >= 0.5 ? "warn" : "bad";
  }

  private static String healthText(double r, long n) {
    return n == 0 ? "serving, no action-cache lookups yet" : r >= 0.7 ? "healthy" : r >= 0.5 ? "hit ratio low" : "hit ratio under 50%";
  }

  private static String human(Duration d) {
    long h = d.toHours();
    return h > 0 ? h + " h " + d.toMinutesPart() + " min" : d.toMinutes() + " min " + d.toSecondsPart() + " s";
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
