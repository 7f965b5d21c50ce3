package dev.buckcache.server;

import dev.buckcache.insight.InvocationLog;
import java.util.List;
import java.util.Locale;

/**
 * The status page's chart: one bar per hour of the last 7 days, its height the action-cache hit
 * rate of that hour, its shade the number of lookups, with the 70% target and the 50% alert
 * lines. Inline SVG with no script and no external asset, so the page works offline.
 */
final class HourlyChart {
  static final int WIDTH = 840;
  static final int HEIGHT = 160;
  private static final int LEFT = 36;
  private static final int BOTTOM = 20;

  private HourlyChart() {}

  static String svg(List<InvocationLog.Hour> hours) {
    int plotW = WIDTH - LEFT - 4;
    int plotH = HEIGHT - BOTTOM - 6;
    double barW = (double) plotW / hours.size();
    long most = 1;
    for (var h : hours) {
      most = Math.max(most, h.lookups());
    }
    var out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "<svg id=\"hourly-hit-rate\" xmlns=\"http://www.w3.org/2000/svg\" "
        + "width=\"100%%\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"hourly action-cache hit "
        + "rate, last 7 days\">", WIDTH, HEIGHT));
    for (int pct : new int[] {0, 50, 70, 100}) {
      double y = 6 + plotH * (1 - pct / 100.0);
      var color = pct == 70 ? "#1a7f37" : pct == 50 ? "#b35900" : "#c9ced6";
      out.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
          + "stroke=\"%s\" stroke-dasharray=\"%s\"/><text x=\"2\" y=\"%.1f\" font-size=\"10\" "
          + "fill=\"#5b6472\">%d%%</text>", LEFT, WIDTH - 4, y, y, color,
          pct == 70 || pct == 50 ? "4 3" : "none", y + 3, pct));
    }
    int bars = 0;
    for (int i = 0; i < hours.size(); i++) {
      var h = hours.get(i);
      if (h.lookups() == 0) {
        continue;
      }
      bars++;
      double rate = (double) h.hits() / h.lookups();
      double height = Math.max(1, plotH * rate);
      double opacity = 0.35 + 0.65 * Math.sqrt((double) h.lookups() / most);
      var color = rate >= 0.7 ? "#2f6feb" : rate >= 0.5 ? "#b35900" : "#c62828";
      out.append(String.format(Locale.ROOT, "<rect class=\"hour\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
          + "height=\"%.2f\" fill=\"%s\" fill-opacity=\"%.2f\" data-hour=\"%d\" data-lookups=\"%d\" "
          + "data-hits=\"%d\"><title>%s: %d of %d hits (%.1f%%)</title></rect>",
          LEFT + i * barW, 6 + plotH - height, Math.max(1, barW - 0.6), height, color, opacity,
          h.epochHour(), h.lookups(), h.hits(), java.time.Instant.ofEpochSecond(h.epochHour() * 3600),
          h.hits(), h.lookups(), rate * 100));
    }
    for (int day = 0; day <= 7; day++) {
      double x = LEFT + day * 24 * barW;
      out.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
          + "fill=\"#5b6472\" text-anchor=\"middle\">%s</text>", Math.min(x, WIDTH - 20.0),
          HEIGHT - 4, day == 7 ? "now" : "-" + (7 - day) + "d"));
    }
    if (bars == 0) {
      out.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" "
          + "fill=\"#5b6472\" text-anchor=\"middle\">no action-cache lookups yet</text>",
          WIDTH / 2, HEIGHT / 2));
    }
    return out.append("</svg>").toString();
  }
}
