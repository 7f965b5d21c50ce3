package dev.buckcache.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.disk.DiskSettings;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every action-cache entry records its writer; a purge by writer removes exactly its entries. */
class PurgeTest {
  @TempDir Path dir;

  private TieredStore open() {
    return TieredStore.open(new DiskSettings(dir, 256L << 20, 0.8, true, 1, 64 * 1024), 8L << 20,
        1L << 30);
  }

  private static AcKey key(int i) {
    return new AcKey("main", DigestFunction.SHA256,
        DigestFunction.SHA256.hash(("action " + i).getBytes(StandardCharsets.UTF_8)));
  }

  private static Provenance by(String subject, Instant at) {
    return new Provenance(subject, "bazel", "inv-" + subject, "127.0.0.1", at);
  }

  @Test
  void purgeBySubject_removesExactlyItsEntries_dryRunRemovesNothing_survivesRestart() {
    var t0 = Instant.parse("2026-12-01T09:00:00Z");
    var mine = new ArrayList<AcKey>();
    try (var store = open()) {
      for (int i = 0; i < 30; i++) {
        var subject = i % 3 == 0 ? "leaked-ci" : "release";
        var entry = new AcEntry(AcEntry.Kind.RAW, ("value " + i).getBytes(StandardCharsets.UTF_8),
            by(subject, t0.plusSeconds(i)));
        store.put(key(i), entry);
        if (subject.equals("leaked-ci")) {
          mine.add(key(i));
        }
        store.get(key(i)); // into the memory tier too
      }
      store.put(key(100), new AcEntry(AcEntry.Kind.RAW, new byte[] {1})); // no writer recorded
      // Rewritten by another subject: no longer the leaked token's entry.
      store.put(key(0), new AcEntry(AcEntry.Kind.RAW, new byte[] {2}, by("release", t0)));
      mine.remove(key(0));

      var dry = store.purgeActionCache(w -> w.subject().equals("leaked-ci"), true);
      assertThat(dry).containsExactlyInAnyOrderElementsOf(mine);
      assertThat(store.get(key(3))).isPresent();
    }
    try (var store = open()) { // the writer is on disk, in the index record
      var since = t0.plusSeconds(15);
      var late = store.purgeActionCache(w -> w.subject().equals("leaked-ci")
          && !w.written().isBefore(since), false);
      assertThat(late).containsExactlyInAnyOrder(key(15), key(18), key(21), key(24), key(27));
      var rest = store.purgeActionCache(w -> w.subject().equals("leaked-ci"), false);
      assertThat(rest).containsExactlyInAnyOrder(key(3), key(6), key(9), key(12));
      for (int i = 0; i < 30; i++) {
        assertThat(store.get(key(i)).isPresent()).as("entry %d", i).isEqualTo(i == 0 || i % 3 != 0);
      }
      assertThat(store.get(key(100))).isPresent();
      assertThat(store.purgeActionCache(w -> w.subject().equals("leaked-ci"), false)).isEmpty();
      assertThat(store.stats().disk().entries()).isEqualTo(22); // 31 written, 9 purged
    }
  }

  @Test
  void provenance_encodesBoundedAndDecodes_rejectsForeignBytes() {
    var p = new Provenance("s".repeat(500), "tool", "é".repeat(100), "::1", Instant.ofEpochMilli(1234));
    assertThat(p.subject()).hasSize(Provenance.MAX_SUBJECT);
    assertThat(p.invocation().getBytes(StandardCharsets.UTF_8).length)
        .isLessThanOrEqualTo(Provenance.MAX_INVOCATION);
    assertThat(Provenance.decode(p.encode())).isEqualTo(p);
    assertThat(Provenance.decode(new byte[] {9, 9, 9})).isNull();
    assertThat(Provenance.decode(new byte[] {1})).isNull();
  }
}
