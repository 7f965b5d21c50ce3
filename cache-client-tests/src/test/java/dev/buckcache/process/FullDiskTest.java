package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.clients.Clients;
import dev.buckcache.digest.DigestFunction;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real full disk: a 40 MB tmpfs under a server told it may use 200 MB. Uploads that no longer
 * fit get 507 with a clear reason; what is stored stays readable; the server keeps running.
 */
class FullDiskTest {
  @TempDir Path dir;

  @Test
  void diskFills_uploads507_readsAndHealthKeepWorking() throws Exception {
    var mountPoint = Files.createDirectories(dir.resolve("small-fs"));
    var mount = Clients.run(dir, Map.of(), 30, "mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs",
        mountPoint.toString());
    if (mount.exitCode() != 0) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError("cannot mount a small tmpfs under CI (needs root): " + mount.output());
      }
      Assumptions.abort("cannot mount a tmpfs here: " + mount.output());
    }
    try (var server = ServerProcess.serve(mountPoint.resolve("data"), "--max-size", "200MB",
        "--memory-size", "8MB")) {
      var http = HttpClient.newHttpClient();
      var random = new Random(9);
      byte[] first = null;
      int stored = 0;
      HttpResponse<String> full = null;
      for (int i = 0; i < 80 && full == null; i++) {
        var blob = new byte[1_000_000];
        random.nextBytes(blob);
        var put = http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/"
            + DigestFunction.SHA256.hash(blob))).PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(),
            HttpResponse.BodyHandlers.ofString());
        if (put.statusCode() == 200) {
          stored++;
          first = first == null ? blob : first;
        } else {
          full = put;
        }
      }
      assertThat(stored).as("some uploads fit").isGreaterThan(5);
      assertThat(full).as("the disk filled up").isNotNull();
      assertThat(full.statusCode()).isEqualTo(507);
      assertThat(full.body()).contains("disk full");
      var again = http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/"
          + DigestFunction.SHA256.hash(first))).build(), HttpResponse.BodyHandlers.ofByteArray());
      assertThat(again.statusCode()).isEqualTo(200);
      assertThat(again.body()).isEqualTo(first);
      var health = http.send(HttpRequest.newBuilder(URI.create(server.http() + "/healthz")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(health.body()).isEqualTo("ok\n");
      System.out.println("full disk: " + stored + " x 1 MB stored, then 507: " + full.body().trim());
      server.stopAndCheck();
    } finally {
      Clients.run(dir, Map.of(), 30, "umount", mountPoint.toString());
    }
  }
}
