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
    var known = new java.util.HashSet<String>(List.of("AUTH_TOKEN", "JAVA_OPTS",
        // The AWS SDK's default chain (the shared tier's credentials), not a buckcache setting.
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"));
    ConfigLoader.ALL.forEach(s -> known.add(s.env()));
    assertThat(known).containsAll(env.keySet());
  }

  /** ${VAR:-default} gives the default; ${VAR:?message} (required) gives {@code given}. */
  private static String interpolate(String value, String given) {
    return value.replaceAll("\\$\\{[A-Z0-9_]+:-([^}]*)}", "$1").replaceAll("\\$\\{[A-Z0-9_]+:\\?[^}]*}", given);
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
    var mounts = podContainer(image, container, (Map<String, Object>) docs.get("Service").get("spec"));
    assertThat(mounts).containsEntry("data", image.volume()).containsKey("tmp");
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
    var limits = ((Map<String, Map<String, Object>>) container.get("resources")).get("limits");
    assertWithinMemoryLimit(config, env, quantity(limits.get("memory")));
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

  /**
   * The server container agrees with the image and its Service: ports, probes on /healthz, a
   * read-only root. Returns its mounts, volume name to path.
   */
  @SuppressWarnings("unchecked")
  private static Map<String, String> podContainer(Image image, Map<String, Object> container,
      Map<String, Object> service) {
    var ports = new java.util.HashMap<String, Integer>();
    ((List<Map<String, Object>>) container.get("ports")).forEach(p ->
        ports.put((String) p.get("name"), (Integer) p.get("containerPort")));
    assertThat(ports).containsEntry("http", image.port("BUCKCACHE_HTTP_ADDRESS"))
        .containsEntry("grpc", image.port("BUCKCACHE_GRPC_ADDRESS"));
    assertThat(image.exposed()).containsExactlyInAnyOrder(
        ports.values().stream().map(String::valueOf).toArray(String[]::new));
    for (var p : (List<Map<String, Object>>) service.get("ports")) {
      assertThat(ports).containsKey((String) p.get("targetPort"));
    }
    for (var probe : List.of("startupProbe", "readinessProbe", "livenessProbe")) {
      var get = (Map<String, Object>) ((Map<String, Object>) container.get(probe)).get("httpGet");
      assertThat(get).as(probe).containsEntry("path", "/healthz").containsEntry("port", "http");
    }
    assertThat(((Map<String, Object>) container.get("securityContext"))).containsEntry("readOnlyRootFilesystem", true);
    var mounts = new java.util.HashMap<String, String>();
    ((List<Map<String, Object>>) container.get("volumeMounts")).forEach(m ->
        mounts.put((String) m.get("name"), (String) m.get("mountPath")));
    return mounts;
  }

  /** Kubernetes memory quantities as bytes: 4Gi, 60Gi, 256Mi. */
  private static long quantity(Object value) {
    var m = Pattern.compile("(\\d+)(Ki|Mi|Gi|Ti)").matcher(value.toString());
    assertThat(m.matches()).as("quantity %s", value).isTrue();
    int shift = switch (m.group(2)) {
      case "Ki" -> 10;
      case "Mi" -> 20;
      case "Gi" -> 30;
      default -> 40;
    };
    return Long.parseLong(m.group(1)) << shift;
  }

  /** A container's env: plain values as given, Secret references as {@code secret:NAME/KEY}. */
  @SuppressWarnings("unchecked")
  private static Map<String, String> containerEnv(Map<String, Object> container) {
    var env = new java.util.LinkedHashMap<String, String>();
    for (var e : (List<Map<String, Object>>) container.get("env")) {
      var from = (Map<String, Map<String, Object>>) e.get("valueFrom");
      env.put((String) e.get("name"), from == null ? e.get("value").toString()
          : "secret:" + from.get("secretKeyRef").get("name") + "/" + from.get("secretKeyRef").get("key"));
    }
    return env;
  }

  /**
   * The pod's memory limit plans the process a tenth or so under the container's, the memory
   * tier within its room, and nothing in JAVA_OPTS overrides the heap the plan sets.
   */
  private static void assertWithinMemoryLimit(dev.buckcache.config.ServerConfig config,
      Map<String, String> env, long containerLimit) {
    var plan = config.storage().memory();
    assertThat(plan).as("BUCKCACHE_MEMORY_LIMIT set").isNotNull();
    assertThat(plan.limit()).isBetween(containerLimit * 85 / 100, containerLimit * 95 / 100);
    assertThat(config.storage().memorySize()).isPositive()
        .isLessThanOrEqualTo(plan.memoryTierRoom());
    assertThat(env.get("JAVA_OPTS")).doesNotContain("-Xmx", "MaxRAM", "MaxDirectMemorySize");
  }

  @SuppressWarnings("unchecked")
  @Test
  void kubernetesSharedS3_threeReplicasOnEmptyDirCaches_pdbAndServiceSelectThem_settingsLoad()
      throws Exception {
    var image = Image.read();
    var docs = new java.util.HashMap<String, Map<String, Object>>();
    for (var doc : new Yaml().loadAll(Files.readString(DEPLOY.resolve("kubernetes/shared-s3/buckcache.yaml")))) {
      var map = (Map<String, Object>) doc;
      docs.put(map.get("kind") + "/" + ((Map<String, Object>) map.get("metadata")).get("name"), map);
    }
    assertThat(docs).containsOnlyKeys("Secret/buckcache-keys", "Secret/buckcache-s3", "Service/buckcache",
        "PodDisruptionBudget/buckcache", "Deployment/buckcache", "Job/buckcache-s3-lifecycle");
    var deployment = (Map<String, Object>) docs.get("Deployment/buckcache").get("spec");
    assertThat(deployment.get("replicas")).isEqualTo(3);
    var template = (Map<String, Object>) deployment.get("template");
    var podLabels = (Map<String, Object>) ((Map<String, Object>) template.get("metadata")).get("labels");
    var selector = (Map<String, Object>) ((Map<String, Object>) deployment.get("selector")).get("matchLabels");
    assertThat(podLabels).containsAllEntriesOf(selector);
    // The budget and the Service select exactly the Deployment's pods (and the Job's pods are not theirs).
    var pdb = (Map<String, Object>) docs.get("PodDisruptionBudget/buckcache").get("spec");
    assertThat(((Map<String, Object>) pdb.get("selector")).get("matchLabels")).isEqualTo(selector);
    assertThat((Integer) pdb.get("maxUnavailable")).isBetween(1, 3 - 1);
    var service = (Map<String, Object>) docs.get("Service/buckcache").get("spec");
    assertThat(service.get("selector")).isEqualTo(selector);
    var jobSpec = (Map<String, Object>) docs.get("Job/buckcache-s3-lifecycle").get("spec");
    var jobTemplate = (Map<String, Object>) jobSpec.get("template");
    var jobLabels = (Map<String, Object>) ((Map<String, Object>) jobTemplate.get("metadata")).get("labels");
    assertThat(jobLabels).doesNotContainEntry("app.kubernetes.io/name", selector.get("app.kubernetes.io/name"));

    var pod = (Map<String, Object>) template.get("spec");
    assertThat(((Number) pod.get("terminationGracePeriodSeconds")).longValue())
        .isGreaterThan(ConfigLoader.parseDurationPublic("30s").toSeconds());
    assertThat((Map<String, Object>) pod.get("securityContext")).containsEntry("runAsUser", image.uid())
        .containsEntry("fsGroup", image.uid());
    var container = ((List<Map<String, Object>>) pod.get("containers")).get(0);
    var mounts = podContainer(image, container, service);
    assertThat(service).doesNotContainKey("sessionAffinity"); // any pod serves any blob
    // /data is an emptyDir: a cache of the bucket, with a size limit.
    var volumes = new java.util.HashMap<String, Map<String, Object>>();
    ((List<Map<String, Object>>) pod.get("volumes")).forEach(v -> volumes.put((String) v.get("name"), v));
    var dataVolume = volumes.entrySet().stream().filter(v -> image.volume().equals(mounts.get(v.getKey())))
        .findFirst().orElseThrow().getValue();
    var emptyDir = (Map<String, Object>) dataVolume.get("emptyDir");
    assertThat(emptyDir).as("the data volume is an emptyDir").isNotNull();
    long sizeLimit = quantity(emptyDir.get("sizeLimit"));
    assertThat(deployment).doesNotContainKey("volumeClaimTemplates");

    // Every variable is one the server (or the AWS chain) reads; the credentials come from the Secret.
    var env = new java.util.HashMap<>(image.env());
    var podEnv = containerEnv(container);
    env.putAll(podEnv);
    assertKnownVariables(env);
    var s3Secret = (Map<String, String>) docs.get("Secret/buckcache-s3").get("stringData");
    assertThat(podEnv).containsEntry("AWS_ACCESS_KEY_ID", "secret:buckcache-s3/access-key-id")
        .containsEntry("AWS_SECRET_ACCESS_KEY", "secret:buckcache-s3/secret-access-key");
    assertThat(s3Secret).containsOnlyKeys("access-key-id", "secret-access-key");
    assertThat(s3Secret.values()).allSatisfy(v -> assertThat(v).startsWith("REPLACE-WITH-"));

    env.put("BUCKCACHE_DIR", dir.toString());
    env.put("BUCKCACHE_JWT_PUBLIC_KEYS", dir.resolve("unused.pem").toString());
    var resources = (Map<String, Map<String, Object>>) container.get("resources");
    long memoryLimit = quantity(resources.get("limits").get("memory"));
    // As shipped, the placeholder bucket is refused at start, naming the setting.
    assertThat(env.get("BUCKCACHE_S3_BUCKET")).startsWith("REPLACE-WITH-");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new ConfigLoader(env, memoryLimit).load(null, Map.of()))
        .hasMessageContaining("BUCKCACHE_S3_BUCKET");
    env.put("BUCKCACHE_S3_BUCKET", "build-cache");
    var config = new ConfigLoader(env, memoryLimit).load(null, Map.of());
    // The local disk's budget fits in the emptyDir, with room for RocksDB beyond its data.
    assertThat(config.storage().maxSize()).isLessThan(sizeLimit * 9 / 10);
    assertThat(quantity(resources.get("requests").get("ephemeral-storage"))).isGreaterThanOrEqualTo(sizeLimit);
    assertWithinMemoryLimit(config, env, memoryLimit);
    var s3 = config.s3();
    assertThat(s3).as("the shared tier is on").isNotNull();
    // An emptyDir goes with the pod, and async's unsent uploads with it: shared only here.
    assertThat(s3.durability()).isEqualTo(dev.buckcache.storage.shared.S3Settings.Durability.SHARED);

    // The lifecycle Job sets the rule on the very bucket the nodes use, for their retention.
    var job = ((List<Map<String, Object>>) ((Map<String, Object>) jobTemplate.get("spec")).get("containers")).get(0);
    assertThat((List<String>) job.get("args")).containsExactly("s3", "lifecycle", "--apply");
    assertThat(job.get("image")).isEqualTo(container.get("image"));
    var jobEnv = new java.util.HashMap<>(image.env());
    jobEnv.putAll(containerEnv(job));
    assertKnownVariables(jobEnv);
    assertThat(jobEnv).containsEntry("AWS_ACCESS_KEY_ID", podEnv.get("AWS_ACCESS_KEY_ID"))
        .containsEntry("AWS_SECRET_ACCESS_KEY", podEnv.get("AWS_SECRET_ACCESS_KEY"));
    jobEnv.put("BUCKCACHE_DIR", dir.toString());
    jobEnv.put("BUCKCACHE_INSECURE_NO_AUTH", "true");
    assertThat(jobEnv.get("BUCKCACHE_S3_BUCKET")).isEqualTo(podEnv.get("BUCKCACHE_S3_BUCKET"));
    jobEnv.put("BUCKCACHE_S3_BUCKET", "build-cache");
    var jobS3 = new ConfigLoader(jobEnv, 4L << 30).load(null, Map.of()).s3();
    assertThat(jobS3.bucket()).isEqualTo(s3.bucket());
    assertThat(jobS3.region()).isEqualTo(s3.region());
    assertThat(jobS3.endpoint()).isEqualTo(s3.endpoint());
    assertThat(jobS3.prefix()).isEqualTo(s3.prefix());
    assertThat(jobS3.retentionDays()).isEqualTo(s3.retentionDays()).isPositive();
  }

  @SuppressWarnings("unchecked")
  @Test
  void composeSharedS3_twoNodesOneBucket_prometheusScrapesBoth_portsOnLoopbackOnly() throws Exception {
    var image = Image.read();
    var composeDir = DEPLOY.resolve("compose");
    Map<String, Object> compose = new Yaml().load(Files.readString(composeDir.resolve("docker-compose.shared-s3.yml")));
    var services = (Map<String, Map<String, Object>>) compose.get("services");
    assertThat(services).containsOnlyKeys("minio", "bucket", "lifecycle", "buckcache-a", "buckcache-b",
        "prometheus");
    for (var s : services.entrySet()) {
      for (var p : (List<String>) s.getValue().getOrDefault("ports", List.of())) {
        assertThat(p).as("%s publishes %s", s.getKey(), p).startsWith("127.0.0.1:");
      }
      for (var v : (List<String>) s.getValue().getOrDefault("volumes", List.of())) {
        if (v.startsWith(".")) {
          assertThat(composeDir.resolve(v.split(":", -1)[0])).as(v).exists();
        }
      }
    }
    // The bucket the one-shot service creates, on the MinIO service.
    var bucketCommand = String.join(" ", (List<String>) services.get("bucket").get("command"));
    var made = Pattern.compile("mc mb --ignore-existing (\\w+)/([a-z0-9.-]+)").matcher(bucketCommand);
    assertThat(made.find()).as(bucketCommand).isTrue();
    assertThat(bucketCommand).contains("mc alias set " + made.group(1) + " http://minio:9000");
    assertThat((List<String>) services.get("minio").get("command")).contains("server");

    var nodes = List.of("buckcache-a", "buckcache-b");
    var hostPorts = new java.util.HashSet<String>();
    var settings = new ArrayList<dev.buckcache.storage.shared.S3Settings>();
    for (var name : nodes) {
      var node = services.get(name);
      assertThat(node.get("build")).isEqualTo("../..");
      assertThat(((Map<String, Map<String, Object>>) node.get("depends_on")).get("bucket"))
          .containsEntry("condition", "service_completed_successfully");
      var ports = (List<String>) node.get("ports");
      assertThat(ports).hasSize(1);
      assertThat(ports.get(0)).endsWith(":" + image.port("BUCKCACHE_HTTP_ADDRESS"));
      hostPorts.add(ports.get(0).split(":", -1)[1]);
      var volume = ((List<String>) node.get("volumes")).get(0);
      assertThat(volume).endsWith(":" + image.volume());
      assertThat((Map<String, Object>) compose.get("volumes")).containsKey(volume.split(":", -1)[0]);
      var env = new java.util.HashMap<>(image.env());
      ((Map<String, Object>) node.get("environment")).forEach((k, v) -> env.put(k, interpolate(v.toString(), "tok")));
      assertKnownVariables(env);
      assertThat(env).containsKeys("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");
      env.put("BUCKCACHE_DIR", dir.resolve(name).toString());
      var config = new ConfigLoader(env, 4L << 30).load(null, Map.of());
      assertThat(config.auth().mode()).isEqualTo(dev.buckcache.config.AuthConfig.Mode.STATIC);
      settings.add(config.s3());
    }
    assertThat(hostPorts).as("each node on its own host port").hasSize(2);
    assertThat(settings.get(0)).as("both nodes use one bucket the same way").isEqualTo(settings.get(1));
    var s3 = settings.get(0);
    assertThat(s3.bucket()).isEqualTo(made.group(2));
    assertThat(s3.endpoint()).hasToString("http://minio:9000");
    assertThat(s3.pathStyle()).isTrue();
    assertThat(s3.durability()).isEqualTo(dev.buckcache.storage.shared.S3Settings.Durability.SHARED);
    assertThat((List<String>) services.get("lifecycle").get("command")).containsExactly("s3", "lifecycle", "--apply");
    assertThat(services.get("lifecycle").get("environment").toString())
        .contains("BUCKCACHE_S3_BUCKET=" + s3.bucket());

    // Prometheus scrapes both nodes on their container port, with the token secret.
    var prometheus = services.get("prometheus");
    var configFlag = ((List<String>) prometheus.get("command")).stream()
        .filter(c -> c.startsWith("--config.file=/etc/prometheus/")).findFirst().orElseThrow();
    assertThat((List<String>) prometheus.get("volumes")).contains("../prometheus:/etc/prometheus:ro");
    var scrapeFile = DEPLOY.resolve("prometheus").resolve(configFlag.substring(configFlag.lastIndexOf('/') + 1));
    Map<String, Object> scrape = new Yaml().load(Files.readString(scrapeFile));
    for (var rules : (List<String>) scrape.get("rule_files")) {
      assertThat(scrapeFile.resolveSibling(rules)).exists();
    }
    var job = ((List<Map<String, Object>>) scrape.get("scrape_configs")).get(0);
    var targets = (List<String>) ((List<Map<String, Object>>) job.get("static_configs")).get(0).get("targets");
    assertThat(targets).containsExactlyInAnyOrderElementsOf(
        nodes.stream().map(n -> n + ":" + image.port("BUCKCACHE_HTTP_ADDRESS")).toList());
    var secret = ((List<String>) prometheus.get("secrets")).get(0);
    assertThat(((Map<String, Object>) job.get("authorization")).get("credentials_file"))
        .isEqualTo("/run/secrets/" + secret);
    assertThat(((Map<String, Map<String, Object>>) compose.get("secrets")).get(secret).get("environment"))
        .isEqualTo("BUCKCACHE_TOKEN");
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
