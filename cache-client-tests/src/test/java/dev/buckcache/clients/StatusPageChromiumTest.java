package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.ServerProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The status page at / renders in headless Chromium with the live numbers. */
class StatusPageChromiumTest {
  @TempDir Path dir;

  private static List<String> chromium(Path profile, String... extra) {
    var args = new java.util.ArrayList<>(List.of("chromium", "--headless", "--no-sandbox",
        "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile));
    args.addAll(List.of(extra));
    return args;
  }

  @Test
  void statusPage_rendersHitRatiosAndStorage() throws Exception {
    Clients.require("chromium");
    try (var server = ServerProcess.serve(dir.resolve("data"))) {
      var http = HttpClient.newHttpClient();
      var blob = "status page test blob".getBytes(StandardCharsets.UTF_8);
      var sha = dev.buckcache.digest.DigestFunction.SHA256.hash(blob);
      http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/" + sha))
          .PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.discarding());
      http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/" + sha)).build(),
          HttpResponse.BodyHandlers.discarding());
      http.send(HttpRequest.newBuilder(URI.create(server.http() + "/cas/" + "0".repeat(64))).build(),
          HttpResponse.BodyHandlers.discarding());

      var dom = Clients.run(dir, Map.of(), 120,
          chromium(dir.resolve("profile-dom"), "--dump-dom", server.http() + "/"));
      assertThat(dom.output()).contains("<title>buckcache status</title>")
          .contains("id=\"cas-hit-ratio\">50.0%").contains("id=\"entries\">1<");

      var png = dir.resolve("status.png");
      var shot = Clients.run(dir, Map.of(), 120, chromium(dir.resolve("profile-shot"),
          "--window-size=1200,800", "--screenshot=" + png, server.http() + "/"));
      assertThat(Files.exists(png)).as(shot.output()).isTrue();
      var image = ImageIO.read(png.toFile());
      assertThat(image.getWidth()).isEqualTo(1200);
      var colors = new java.util.HashSet<Integer>();
      for (int x = 0; x < image.getWidth(); x += 7) {
        for (int y = 0; y < image.getHeight(); y += 7) {
          colors.add(image.getRGB(x, y));
        }
      }
      assertThat(colors.size()).as("a rendered page, not a blank image").isGreaterThan(10);
      server.stopAndCheck();
    }
  }
}
