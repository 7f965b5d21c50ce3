package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.digest.DigestFunction;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The deploy kit stays true to the server: its files parse, and every metric the alert rules and
 * the dashboard query is one a running server exports.
 */
class DeployKitTest {
  private static final Path DEPLOY = Path.of("..", "deploy");
  private static final Pattern METRIC = Pattern.compile("\\b((?:buckcache|jvm)_[a-z_]+)\\b");

  @TempDir Path dir;

  @Test
  void alertsAndDashboard_queryOnlyMetricsTheServerExports() throws Exception {
    var exported = scrapeAfterTraffic();
    var queries = new ArrayList<String>();
    Map<String, Object> alerts = new Yaml().load(Files.readString(DEPLOY.resolve("prometheus/alerts.yml")));
    for (var group : (List<Map<String, Object>>) alerts.get("groups")) {
      for (var rule : (List<Map<String, Object>>) group.get("rules")) {
        assertThat(rule).containsKeys("alert", "expr", "for", "annotations");
        queries.add((String) rule.get("expr"));
      }
    }
    assertThat(queries).anySatisfy(q -> assertThat(q).contains("buckcache_ac_lookups_total").contains("< 0.5"));
    var dashboard = JsonParser.parseString(Files.readString(DEPLOY.resolve("grafana/dashboard.json")))
        .getAsJsonObject();
    for (var panel : dashboard.getAsJsonArray("panels")) {
      for (var target : panel.getAsJsonObject().getAsJsonArray("targets")) {
        queries.add(target.getAsJsonObject().get("expr").getAsString());
      }
    }
    assertThat(queries).hasSizeGreaterThan(10);
    for (var q : queries) {
      var m = METRIC.matcher(q);
      while (m.find()) {
        var name = m.group(1);
        assertThat(exported).as("query %s names %s", q, name)
            .containsPattern("(?m)^" + Pattern.quote(name) + "[{ ]");
      }
    }
  }

  @Test
  void configFilesParse_systemdUnitFitsTheShutdownGrace() throws Exception {
    for (var f : List.of("prometheus/prometheus.yml", "grafana/provisioning/datasources/prometheus.yml",
        "grafana/provisioning/dashboards/buckcache.yml")) {
      Map<String, Object> doc = new Yaml().load(Files.readString(DEPLOY.resolve(f)));
      assertThat(doc).as(f).isNotEmpty();
    }
    var unit = Files.readString(DEPLOY.resolve("systemd/buckcache.service"));
    assertThat(unit).contains("serve --config /etc/buckcache/buckcache.yaml").contains("[Install]");
    var stop = Pattern.compile("TimeoutStopSec=(\\d+)").matcher(unit);
    assertThat(stop.find()).isTrue();
    long grace = ConfigLoader.parseDurationPublic("30s").toSeconds();
    assertThat(Long.parseLong(stop.group(1))).isGreaterThan(grace);
  }

  private String scrapeAfterTraffic() throws Exception {
    var config = new ConfigLoader(Map.of("AUTH_TOKEN", "tok"), 4L << 30).load(null, Map.of(
        "storage.dir", dir.toString(), "storage.max_size", "64MB", "storage.memory_size", "8MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0"));
    try (var server = BuckcacheServer.start(config)) {
      var http = HttpClient.newHttpClient();
      var base = "http://127.0.0.1:" + server.httpAddress().getPort();
      var blob = "x".repeat(100).getBytes();
      var sha = DigestFunction.SHA256.hash(blob);
      http.send(HttpRequest.newBuilder(URI.create(base + "/cas/" + sha)).header("Authorization", "Bearer tok")
          .PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.discarding());
      http.send(HttpRequest.newBuilder(URI.create(base + "/cas/" + sha)).header("Authorization", "Bearer tok")
          .build(), HttpResponse.BodyHandlers.discarding());
      http.send(HttpRequest.newBuilder(URI.create(base + "/cas/" + sha)).build(),
          HttpResponse.BodyHandlers.discarding()); // an auth failure
      return http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
    }
  }
}
