package dev.buckcache.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs the store benchmark at a tiny size so it keeps working; the numbers are not checked. */
class StoreBenchSmokeTest {
  @TempDir Path dir;

  @Test
  void storeBench_smallRun_completes() throws Exception {
    var out = new java.io.ByteArrayOutputStream();
    var old = System.out;
    System.setOut(new java.io.PrintStream(out, true));
    try {
      StoreBench.main(new String[] {dir.toString(), "2000", "500", "8", "2"});
    } finally {
      System.setOut(old);
    }
    var text = out.toString(StandardCharsets.UTF_8);
    old.print(text);
    assertThat(text).contains("put", "get (disk tier)", "get (memory tier)", "reopen  2000 entries",
        "entries after reopen 2000");
  }
}
