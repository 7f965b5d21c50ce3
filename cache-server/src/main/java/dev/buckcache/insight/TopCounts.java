package dev.buckcache.insight;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The most frequent names in a stream, in bounded memory: the Space-Saving algorithm (Metwally,
 * Agrawal, El Abbadi 2005). At most {@code capacity} names are counted; a new name, when full,
 * takes the place of the least counted one and inherits its count, so a name that is truly among
 * the top keeps its place and counts are over-estimates by at most the smallest count. Not
 * thread-safe: its owner synchronizes.
 */
final class TopCounts {
  public record Count(String name, long count) {}

  private final int capacity;
  private final Map<String, long[]> counts = new LinkedHashMap<>();

  TopCounts(int capacity) {
    this.capacity = capacity;
  }

  void add(String name, long n) {
    var c = counts.get(name);
    if (c != null) {
      c[0] += n;
      return;
    }
    if (counts.size() < capacity) {
      counts.put(name, new long[] {n});
      return;
    }
    String least = null;
    long min = Long.MAX_VALUE;
    for (var e : counts.entrySet()) {
      if (e.getValue()[0] < min) {
        min = e.getValue()[0];
        least = e.getKey();
      }
    }
    counts.remove(least);
    counts.put(name, new long[] {min + n});
  }

  /** The top {@code n}, most counted first. */
  List<Count> top(int n) {
    var all = new ArrayList<Count>(counts.size());
    counts.forEach((k, v) -> all.add(new Count(k, v[0])));
    all.sort(Comparator.comparingLong(Count::count).reversed().thenComparing(Count::name));
    return all.subList(0, Math.min(n, all.size()));
  }

  int size() {
    return counts.size();
  }
}
