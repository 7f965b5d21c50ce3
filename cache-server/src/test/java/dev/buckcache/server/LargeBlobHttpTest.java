package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.config.ConfigLoader;
import dev.buckcache.digest.DigestFunction;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Large blobs over plain HTTP on a real server: noise from 4 MiB up is kept in a file and sent
 * with sendfile, compressible data is kept in RocksDB chunks and sent from direct buffers. Both
 * come back whole, one at a time, many at once, and as HEAD.
 */
class LargeBlobHttpTest {
  @TempDir Path dir;
  private BuckcacheServer server;
  private final HttpClient client = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  private URI url(String hash) {
    return URI.create("http://127.0.0.1:" + server.httpAddress().getPort() + "/cas/" + hash);
  }

  private String put(byte[] content) throws Exception {
    var hash = DigestFunction.SHA256.hash(content);
    assertThat(client.send(HttpRequest.newBuilder(url(hash))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(content)).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
    return hash;
  }

  @Test
  void noiseInAFile_andTextInChunks_comeBackWhole_aloneAndConcurrently() throws Exception {
    server = BuckcacheServer.start(new ConfigLoader(Map.of(), 4L << 30).load(null, Map.of(
        "storage.dir", dir.resolve("store").toString(), "storage.max_size", "512MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0")));
    var random = new Random(41);
    var noise = new byte[(20 << 20) + 3];
    random.nextBytes(noise);
    var text = new byte[9 << 20];
    for (int i = 0; i < text.length; i++) {
      text[i] = (byte) ('a' + (i * 7 + i / 1000) % 26);
    }
    var noiseHash = put(noise);
    var textHash = put(text);
    try (var files = Files.list(dir.resolve("store").resolve("blobs"))) {
      assertThat(files.count()).as("only the noise is in a file").isEqualTo(1);
    }
    var head = client.send(HttpRequest.newBuilder(url(noiseHash))
        .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.headers().firstValueAsLong("content-length")).hasValue(noise.length);
    assertThat(head.body()).isEmpty();
    var gets = new ArrayList<CompletableFuture<HttpResponse<byte[]>>>();
    for (int i = 0; i < 8; i++) {
      gets.add(client.sendAsync(HttpRequest.newBuilder(url(i % 2 == 0 ? noiseHash : textHash))
          .build(), HttpResponse.BodyHandlers.ofByteArray()));
    }
    for (int i = 0; i < gets.size(); i++) {
      var got = gets.get(i).join();
      assertThat(got.statusCode()).isEqualTo(200);
      assertThat(got.body()).as("GET %d", i).isEqualTo(i % 2 == 0 ? noise : text);
    }
  }
}
