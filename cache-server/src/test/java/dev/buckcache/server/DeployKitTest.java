package dev.buckcache.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.digest.DigestFunction;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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
  @SuppressWarnings("unchecked") // the YAML's shape is what the test checks
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

  /** The Dockerfile's runtime facts the other files must agree with. */
  private record Image(Map<String, String> env, int uid, List<String> exposed, String volume) {
    static Image read() throws Exception {
      var text = Files.readString(Path.of("..", "Dockerfile")).replace("\\\n", " ");
      var env = new java.util.LinkedHashMap<String, String>();
      var envLine = Pattern.compile("(?m)^ENV (.*)$").matcher(text);
      assertThat(envLine.find()).isTrue();
      var pair = Pattern.compile("([A-Z_]+)=(\"[^\"]*\"|\\S+)").matcher(envLine.group(1));
      while (pair.find()) {
        env.put(pair.group(1), pair.group(2).replace("\"", ""));
      }
      var uid = Pattern.compile("--uid (\\d+)").matcher(text);
      assertThat(uid.find()).isTrue();
      var expose = Pattern.compile("(?m)^EXPOSE (.*)$").matcher(text);
      assertThat(expose.find()).isTrue();
      var volume = Pattern.compile("(?m)^VOLUME \\[\"([^\"]+)\"\\]").matcher(text);
      assertThat(volume.find()).isTrue();
      assertThat(text).contains("USER " + uid.group(1) + ":").contains("HEALTHCHECK").contains("healthcheck");
      return new Image(env, Integer.parseInt(uid.group(1)), List.of(expose.group(1).trim().split("\\s+")),
          volume.group(1));
    }

    int port(String setting) {
      var address = env.get(setting);
      return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }
  }

  /** Every variable a deploy file sets for the server is one the server reads. */
  private static void assertKnownVariables(Map<String, String> env) {
    var known = new java.util.HashSet<String>(List.of("AUTH_TOKEN", "JAVA_OPTS"));
    ConfigLoader.ALL.forEach(s -> known.add(s.env()));
    assertThat(known).containsAll(env.keySet());
  }

  /** ${VAR:-default} gives the default; ${VAR:?message} (required) gives {@code given}. */
  private static String interpolate(String value, String given) {
    return value.replaceAll("\\$\\{[A-Z_]+:-([^}]*)}", "$1").replaceAll("\\$\\{[A-Z_]+:\\?[^}]*}", given);
  }

  @SuppressWarnings("unchecked")
  @Test
  void compose_servicesFilesPortsAndSettingsAgree() throws Exception {
    var image = Image.read();
    var composeDir = DEPLOY.resolve("compose");
    Map<String, Object> compose = new Yaml().load(Files.readString(composeDir.resolve("docker-compose.yml")));
    var services = (Map<String, Map<String, Object>>) compose.get("services");
    assertThat(services).containsKeys("buckcache", "prometheus", "grafana");
    // Every file mounted from the repository exists.
    var mounts = new java.util.HashMap<String, String>();
    for (var service : services.values()) {
      for (var v : (List<String>) service.getOrDefault("volumes", List.of())) {
        var parts = v.split(":", -1);
        if (parts[0].startsWith(".")) {
          assertThat(composeDir.resolve(parts[0])).as(v).exists();
          mounts.put(parts[1], parts[0]);
        }
      }
    }
    var cache = services.get("buckcache");
    assertThat(cache.get("build")).isEqualTo("../..");
    assertThat(composeDir.resolve("../../Dockerfile")).exists();
    assertThat((List<String>) cache.get("volumes")).contains("buckcache-data:" + image.volume());
    assertThat((List<String>) cache.get("ports")).containsExactlyInAnyOrder(
        image.port("BUCKCACHE_HTTP_ADDRESS") + ":" + image.port("BUCKCACHE_HTTP_ADDRESS"),
        image.port("BUCKCACHE_GRPC_ADDRESS") + ":" + image.port("BUCKCACHE_GRPC_ADDRESS"));
    assertThat(ConfigLoader.parseDurationPublic((String) cache.get("stop_grace_period")))
        .isGreaterThan(ConfigLoader.parseDurationPublic("30s"));
    // The server's settings: the image's, then the compose file's, load as the server would.
    var env = new java.util.HashMap<>(image.env());
    ((Map<String, Object>) cache.get("environment")).forEach((k, v) -> env.put(k, interpolate(v.toString(), "tok")));
    assertKnownVariables(env);
    env.put("BUCKCACHE_DIR", dir.toString());
    var config = new ConfigLoader(env, 4L << 30).load(null, Map.of());
    assertThat(config.auth().mode()).isEqualTo(dev.buckcache.config.AuthConfig.Mode.STATIC);
    assertThat(config.storage().maxSize()).isEqualTo(50_000_000_000L);
    // Prometheus scrapes the buckcache service's HTTP port with the token secret.
    var prometheus = services.get("prometheus");
    assertThat((List<String>) prometheus.get("command")).contains("--config.file=/etc/prometheus/prometheus.yml");
    assertThat(mounts.get("/etc/prometheus")).isEqualTo("../prometheus");
    Map<String, Object> scrape = new Yaml().load(Files.readString(DEPLOY.resolve("prometheus/prometheus.yml")));
    var job = ((List<Map<String, Object>>) scrape.get("scrape_configs")).get(0);
    var targets = (List<String>) ((List<Map<String, Object>>) job.get("static_configs")).get(0).get("targets");
    assertThat(targets).containsExactly("buckcache:" + image.port("BUCKCACHE_HTTP_ADDRESS"));
    var secret = ((List<String>) prometheus.get("secrets")).get(0);
    assertThat(((Map<String, Object>) compose.get("secrets"))).containsKey(secret);
    assertThat(((Map<String, Object>) job.get("authorization")).get("credentials_file"))
        .isEqualTo("/run/secrets/" + secret);
    assertThat(((Map<String, Map<String, Object>>) compose.get("secrets")).get(secret).get("environment"))
        .isEqualTo("BUCKCACHE_TOKEN");
    assertThat(cache.get("environment").toString()).contains("AUTH_TOKEN=${BUCKCACHE_TOKEN");
    // Grafana's data source is the prometheus service; its dashboard folder holds the mount.
    assertThat((List<String>) prometheus.get("ports")).anySatisfy(p -> assertThat(p).endsWith(":9090"));
    Map<String, Object> datasources = new Yaml().load(Files.readString(
        DEPLOY.resolve("grafana/provisioning/datasources/prometheus.yml")));
    assertThat(((List<Map<String, Object>>) datasources.get("datasources")).get(0).get("url"))
        .isEqualTo("http://prometheus:9090");
    Map<String, Object> dashboards = new Yaml().load(Files.readString(
        DEPLOY.resolve("grafana/provisioning/dashboards/buckcache.yml")));
    var folder = ((Map<String, Object>) ((List<Map<String, Object>>) dashboards.get("providers")).get(0)
        .get("options")).get("path");
    assertThat(mounts).containsEntry(folder + "/buckcache.json", "../grafana/dashboard.json")
        .containsEntry("/etc/grafana/provisioning", "../grafana/provisioning");
  }

  @SuppressWarnings("unchecked")
  @Test
  void kubernetes_manifestAgreesWithTheImage_andItsSettingsServeWithARealKey() throws Exception {
    var image = Image.read();
    var docs = new java.util.HashMap<String, Map<String, Object>>();
    for (var doc : new Yaml().loadAll(Files.readString(DEPLOY.resolve("kubernetes/buckcache.yaml")))) {
      var map = (Map<String, Object>) doc;
      docs.put((String) map.get("kind"), map);
    }
    assertThat(docs).containsOnlyKeys("Secret", "Service", "StatefulSet");
    var sts = (Map<String, Object>) docs.get("StatefulSet").get("spec");
    assertThat(sts.get("replicas")).isEqualTo(1);
    var pod = (Map<String, Object>) ((Map<String, Object>) sts.get("template")).get("spec");
    assertThat(((Number) pod.get("terminationGracePeriodSeconds")).longValue())
        .isGreaterThan(ConfigLoader.parseDurationPublic("30s").toSeconds());
    var security = (Map<String, Object>) pod.get("securityContext");
    assertThat(security).containsEntry("runAsNonRoot", true).containsEntry("runAsUser", image.uid())
        .containsEntry("fsGroup", image.uid());
    var container = ((List<Map<String, Object>>) pod.get("containers")).get(0);
    var ports = new java.util.HashMap<String, Integer>();
    ((List<Map<String, Object>>) container.get("ports")).forEach(p ->
        ports.put((String) p.get("name"), (Integer) p.get("containerPort")));
    assertThat(ports).containsEntry("http", image.port("BUCKCACHE_HTTP_ADDRESS"))
        .containsEntry("grpc", image.port("BUCKCACHE_GRPC_ADDRESS"));
    assertThat(image.exposed()).containsExactlyInAnyOrder(
        ports.values().stream().map(String::valueOf).toArray(String[]::new));
    var service = (Map<String, Object>) docs.get("Service").get("spec");
    for (var p : (List<Map<String, Object>>) service.get("ports")) {
      assertThat(ports).containsKey((String) p.get("targetPort"));
    }
    for (var probe : List.of("startupProbe", "readinessProbe", "livenessProbe")) {
      var get = (Map<String, Object>) ((Map<String, Object>) container.get(probe)).get("httpGet");
      assertThat(get).as(probe).containsEntry("path", "/healthz").containsEntry("port", "http");
    }
    var mounts = new java.util.HashMap<String, String>();
    ((List<Map<String, Object>>) container.get("volumeMounts")).forEach(m ->
        mounts.put((String) m.get("name"), (String) m.get("mountPath")));
    assertThat(mounts).containsEntry("data", image.volume()).containsKey("tmp");
    assertThat(((Map<String, Object>) container.get("securityContext"))).containsEntry("readOnlyRootFilesystem", true);
    var claims = (List<Map<String, Object>>) sts.get("volumeClaimTemplates");
    assertThat(((Map<String, Object>) claims.get(0).get("metadata")).get("name")).isEqualTo("data");

    // The pod's environment over the image's, with the Secret's key file where the pod mounts it.
    var env = new java.util.HashMap<>(image.env());
    for (var e : (List<Map<String, Object>>) container.get("env")) {
      env.put((String) e.get("name"), (String) e.get("value"));
    }
    assertKnownVariables(env);
    var keyPath = env.get("BUCKCACHE_JWT_PUBLIC_KEYS");
    var keyVolume = ((List<Map<String, Object>>) pod.get("volumes")).stream()
        .filter(v -> v.get("name").equals("keys")).findFirst().orElseThrow();
    var item = ((List<Map<String, Object>>) ((Map<String, Object>) keyVolume.get("secret")).get("items")).get(0);
    assertThat(keyPath).isEqualTo(mounts.get("keys") + "/" + item.get("path"));
    var secretData = (Map<String, String>) docs.get("Secret").get("stringData");
    assertThat(secretData).containsKey((String) item.get("key"));
    var secretName = ((Map<String, Object>) docs.get("Secret").get("metadata")).get("name");
    assertThat(((Map<String, Object>) keyVolume.get("secret")).get("secretName")).isEqualTo(secretName);

    // As shipped, the placeholder key is refused at start with a message naming the file.
    var placeholder = dir.resolve("placeholder.pem");
    Files.writeString(placeholder, secretData.get(item.get("key")));
    env.put("BUCKCACHE_DIR", dir.resolve("store").toString());
    env.put("BUCKCACHE_HTTP_ADDRESS", "127.0.0.1:0");
    env.put("BUCKCACHE_GRPC_ADDRESS", "127.0.0.1:0");
    env.put("BUCKCACHE_JWT_PUBLIC_KEYS", placeholder.toString());
    var shipped = new ConfigLoader(env, 4L << 30).load(null, Map.of());
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> BuckcacheServer.start(shipped).close())
        .hasMessageContaining(placeholder.toString());

    // With a real key from keygen in the Secret, the pod's settings serve tokens signed by it.
    var keys = dev.buckcache.auth.Keys.generateEs256();
    var real = dir.resolve("verify-key.pem");
    Files.writeString(real, dev.buckcache.auth.Pem.encode(keys.getPublic()));
    env.put("BUCKCACHE_JWT_PUBLIC_KEYS", real.toString());
    var config = new ConfigLoader(env, 4L << 30).load(null, Map.of());
    assertThat(config.storage().maxSize()).isEqualTo(90_000_000_000L);
    try (var server = BuckcacheServer.start(config)) {
      var base = "http://127.0.0.1:" + server.httpAddress().getPort();
      var http = HttpClient.newHttpClient();
      assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
      var token = dev.buckcache.auth.Keys.issue(keys, "prometheus", dev.buckcache.auth.Scope.READ,
          List.of(), java.time.Duration.ofHours(1), null, null, java.time.Instant.now());
      assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/metrics"))
          .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.discarding())
          .statusCode()).isEqualTo(200);
    }
  }

  private String scrapeAfterTraffic() throws Exception {
    var config = new ConfigLoader(Map.of("AUTH_TOKEN", "tok"), 4L << 30).load(null, Map.of(
        "storage.dir", dir.toString(), "storage.max_size", "64MB", "storage.memory_size", "8MB",
        "http.address", "127.0.0.1:0", "grpc.address", "127.0.0.1:0"));
    try (var server = BuckcacheServer.start(config)) {
      var http = HttpClient.newHttpClient();
      var base = "http://127.0.0.1:" + server.httpAddress().getPort();
      var blob = "x".repeat(100).getBytes(StandardCharsets.UTF_8);
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
