package dev.buckcache.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A 2 GiB blob goes in and out of a JVM whose whole heap is 256 MiB. */
class LargeBlobTest {
  @TempDir Path dir;

  @Test
  void twoGibBlob_roundTripsWithA256MibHeap() throws Exception {
    long size = 2L << 30;
    var child = ChildJvm.start(LargeBlobMain.class, List.of("-Xmx256m", "-XX:+UseSerialGC"),
        dir.toString(), Long.toString(size));
    String report;
    try (var out = ChildJvm.stdout(child)) {
      report = out.readLine();
    }
    assertThat(child.waitFor(10, TimeUnit.MINUTES)).isTrue();
    assertThat(child.exitValue()).as("child exit (an OutOfMemoryError fails it)").isZero();
    System.out.println("large blob: " + report);
    assertThat(report).startsWith("size " + size);
    long peakHeap = Long.parseLong(report.replaceAll(".* peak_heap (\\d+) .*", "$1"));
    assertThat(peakHeap).isLessThanOrEqualTo(256L << 20);
  }
}
