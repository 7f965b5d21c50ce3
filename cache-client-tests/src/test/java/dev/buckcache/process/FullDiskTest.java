package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.buckcache.clients.Clients;
import dev.buckcache.digest.DigestFunction;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real small disk: a 40 MB tmpfs under a server told it may use 200 MB. The store keeps within
 * the disk (a full disk makes a smaller cache, not failed builds). When other files take the
 * rest of the disk, uploads get 507 / RESOURCE_EXHAUSTED with a clear reason while reads and
 * health keep working; once that space is freed, uploads work again without a restart.
 */
class FullDiskTest {
  @TempDir Path dir;
  private final HttpClient http = HttpClient.newHttpClient();
  private final Random random = new Random(9);

  @Test
  void smallDisk_storeKeepsWithin_fullDisk507_readsWork_writesRecoverWhenSpaceReturns() throws Exception {
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
      // 1. Twice the disk's size in uploads: every one is stored; the oldest are evicted.
      var blobs = new ArrayList<byte[]>();
      for (int i = 0; i < 80; i++) {
        var blob = blob();
        var put = put(server, blob);
        assertThat(put.statusCode()).as("upload %d of 1 MB into a 40 MB disk: %s", i, put.body()).isEqualTo(200);
        blobs.add(blob);
      }
      assertThat(get(server, blobs.get(79)).body()).isEqualTo(blobs.get(79));
      assertThat(get(server, blobs.get(0)).statusCode()).isEqualTo(404);
      server.awaitLine("less than max_size allows", java.time.Duration.ofSeconds(5));

      // 2. Another program takes the rest of the disk.
      var filler = mountPoint.resolve("filler");
      fill(filler);
      HttpResponse<String> full = null;
      for (int i = 0; i < 10 && full == null; i++) {
        var put = put(server, blob());
        if (put.statusCode() != 200) {
          full = put;
        }
      }
      assertThat(full).as("uploads refused once the disk is full").isNotNull();
      assertThat(full.statusCode()).isEqualTo(507);
      assertThat(full.body()).containsAnyOf("disk full", "store is full");
      var channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
      try {
        var big = blob();
        assertThatThrownBy(() -> ByteStreams.write(channel, DigestFunction.SHA256.hash(big), big, 65536, 0))
            .hasRootCauseInstanceOf(StatusRuntimeException.class)
            .rootCause().satisfies(e -> assertThat(Status.fromThrowable(e).getCode())
                .isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      // Reads and health go on. Which blobs are still stored depends on how far the store had to
      // shrink to keep within the disk once the filler took the rest (a full disk makes a smaller
      // cache; one CI run saw even the newest evicted): each read is the exact blob or a 404.
      int served = 0;
      for (var blob : blobs) {
        var r = get(server, blob);
        assertThat(r.statusCode()).as("a read on a full disk").isIn(200, 404);
        if (r.statusCode() == 200) {
          assertThat(r.body()).isEqualTo(blob);
          served++;
        }
      }
      System.out.println("full disk: " + served + " of 80 blobs still served");
      assertThat(http.send(HttpRequest.newBuilder(URI.create(server.http() + "/healthz")).build(),
          HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("ok\n");

      // 3. The space comes back: uploads work again, without a restart.
      Files.delete(filler);
      var again = blob();
      int status = 0;
      for (int i = 0; i < 60 && status != 200; i++) {
        status = put(server, again).statusCode();
        if (status != 200) {
          Thread.sleep(500);
        }
      }
      assertThat(status).as("an upload after the disk has room again").isEqualTo(200);
      assertThat(get(server, again).body()).isEqualTo(again);
      System.out.println("full disk: 80 x 1 MB stored in a 40 MB disk; filled by another file: "
          + full.statusCode() + " " + full.body().trim() + "; space freed: uploads work again");
      server.stopAndCheck();
    } finally {
      Clients.run(dir, Map.of(), 30, "umount", mountPoint.toString());
    }
  }

  private byte[] blob() {
    var blob = new byte[1_000_000];
    random.nextBytes(blob);
    return blob;
  }

  private HttpResponse<String> put(ServerProcess server, byte[] blob) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/"
        + DigestFunction.SHA256.hash(blob))).PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<byte[]> get(ServerProcess server, byte[] blob) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/"
        + DigestFunction.SHA256.hash(blob))).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /** Writes until the filesystem says it is full. */
  private static void fill(Path file) throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      var block = new byte[64 * 1024];
      while (true) {
        out.write(block);
      }
    } catch (IOException e) {
      if (!String.valueOf(e.getMessage()).contains("No space left")) {
        throw e;
      }
    }
  }
}
