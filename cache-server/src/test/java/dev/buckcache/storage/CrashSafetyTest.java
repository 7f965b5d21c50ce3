package dev.buckcache.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills (SIGKILL) a JVM in the middle of concurrent uploads, then reopens its store: it opens,
 * everything it serves verifies, every upload that had returned is there, accounting matches.
 */
class CrashSafetyTest {
  @TempDir Path dir;

  @RepeatedTest(3)
  void killDuringUploads_reopenedStoreIsConsistent() throws Exception {
    var child = ChildJvm.start(CrashWriterMain.class, List.of("-Xmx256m"), dir.toString());
    var committed = new ArrayList<Digest>();
    try (var out = ChildJvm.stdout(child)) {
      // Past 1000 commits the child has also been through eviction rounds (48MB store).
      int target = 1000 + (int) (Math.random() * 1500);
      for (String line = out.readLine(); line != null && committed.size() < target;
          line = out.readLine()) {
        var parts = line.split(" ", -1);
        committed.add(new Digest(DigestFunction.SHA256, parts[1], Long.parseLong(parts[2])));
      }
      child.destroyForcibly();
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(committed).as("child wrote before it was killed").hasSizeGreaterThan(999);

    try (var fx = new StoreFixture(dir, 48L << 20)) {
      var report = fx.audit(); // every entry's chunks complete and hash-verified
      assertThat(report.problems()).isEmpty();
      int present = 0;
      for (var d : committed) {
        var bytes = fx.store.getBytes(d);
        if (bytes.isPresent()) {
          present++;
          assertThat(Digest.of(DigestFunction.SHA256, bytes.get())).isEqualTo(d);
        }
      }
      // Eviction removes the oldest; the newest commits before the kill must all be there.
      var newest = committed.subList(committed.size() - 50, committed.size());
      assertThat(fx.store.findMissing(newest)).isEmpty();
      assertThat(present).isGreaterThan(50);
      // New writes work after recovery.
      var fresh = StoreFixture.randomBytes(new java.util.Random(), 3 * StoreFixture.CHUNK);
      fx.store.put(StoreFixture.digest(fresh), fresh);
      assertThat(fx.store.getBytes(StoreFixture.digest(fresh))).contains(fresh);
    }
  }
}
