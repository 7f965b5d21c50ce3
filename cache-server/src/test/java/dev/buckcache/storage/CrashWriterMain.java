package dev.buckcache.storage;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.disk.DiskSettings;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;

/**
 * Child process of {@link CrashSafetyTest}: writes blobs (small and multi-chunk) and AC entries
 * from four threads until killed, printing each commit once it returned.
 */
public final class CrashWriterMain {
  public static void main(String[] args) throws Exception {
    var settings = new DiskSettings(Path.of(args[0]), 48L << 20, 0.8, true, 1, StoreFixture.CHUNK);
    var store = TieredStore.open(settings, 4L << 20, 1L << 30);
    for (int t = 0; t < 4; t++) {
      long seed = t;
      var thread = new Thread(() -> writeForever(store, new Random(seed * 7919 + System.nanoTime())));
      thread.start();
    }
    Thread.sleep(Long.MAX_VALUE);
  }

  private static void writeForever(TieredStore store, Random random) {
    while (true) {
      boolean multi = random.nextInt(4) == 0;
      int size = multi
          ? StoreFixture.CHUNK * (1 + random.nextInt(6)) + random.nextInt(1000)
          : 1 + random.nextInt(20_000);
      // Half the multi-chunk ones are noise: from four chunks up those go to files of their own.
      var content = multi && random.nextBoolean() ? StoreFixture.randomBytes(random, size)
          : StoreFixture.compressibleBytes(random, size);
      var digest = Digest.of(DigestFunction.SHA256, content);
      store.put(digest, content);
      var key = new AcKey("crash", DigestFunction.SHA256, digest.hash());
      store.put(key, new AcEntry(AcEntry.Kind.RAW, digest.toString().getBytes(StandardCharsets.UTF_8)));
      synchronized (System.out) {
        System.out.println("committed " + digest.hash() + " " + digest.size());
        System.out.flush();
      }
    }
  }
}
