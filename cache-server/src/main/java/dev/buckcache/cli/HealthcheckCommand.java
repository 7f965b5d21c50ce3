package dev.buckcache.cli;

import dev.buckcache.config.ConfigException;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.config.ServerConfig;
import java.net.Inet6Address;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code buckcache healthcheck}: asks a server on this host for {@code /healthz}; exit 0 when it
 * answers 200, 1 otherwise (never 2, which Docker reserves). Made for container health checks,
 * where the image has no curl. By default it reads the settings as {@code serve} does, with the
 * same {@link ConfigLoader} (YAML file &lt; BUCKCACHE_* env), and asks the HTTP port: on loopback
 * when the server listens on all addresses, else on the address it listens on.
 */
@Command(name = "healthcheck", mixinStandardHelpOptions = true,
    description = "Exits 0 if the local server answers /healthz with 200 (for container health checks).")
final class HealthcheckCommand implements Callable<Integer> {
  @Option(names = "--url", paramLabel = "URL",
      description = "what to ask; default: http(s)://127.0.0.1:PORT/healthz, with the port of "
          + "http.address (8080) and https when tls.cert is set, read as serve reads them")
  String url;

  @Option(names = "--config", paramLabel = "FILE",
      description = "the server's YAML config file, as given to serve (BUCKCACHE_* env wins)")
  Path configFile;

  @Option(names = "--timeout", defaultValue = "5", paramLabel = "SECONDS",
      description = "give up after this long (default ${DEFAULT-VALUE})")
  int timeoutSeconds;

  private final Map<String, String> env;

  HealthcheckCommand() {
    this(System.getenv());
  }

  HealthcheckCommand(Map<String, String> env) {
    this.env = env;
  }

  /** The /healthz URL of a server configured by {@code config}. */
  static URI defaultUrl(ServerConfig config) {
    var address = config.httpAddress();
    var ip = address.getAddress();
    var host = ip.isAnyLocalAddress() ? "127.0.0.1"
        : ip instanceof Inet6Address ? "[" + ip.getHostAddress() + "]" : ip.getHostAddress();
    var scheme = config.tls().enabled() ? "https" : "http";
    return URI.create(scheme + "://" + host + ":" + address.getPort() + "/healthz");
  }

  @Override
  public Integer call() throws Exception {
    URI uri;
    try {
      // The heap bound only sizes serve's memory tier; it must not fail a health check.
      uri = url != null ? URI.create(url)
          : defaultUrl(new ConfigLoader(env, Long.MAX_VALUE).load(configFile, Map.of()));
    } catch (ConfigException e) {
      System.err.println("buckcache: " + e.getMessage());
      return Main.EXIT_FAILURE;
    }
    var builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(timeoutSeconds));
    if ("https".equals(uri.getScheme()) && (url == null || isLoopback(uri))) {
      // A liveness check of our own process: its certificate names the service, not 127.0.0.1.
      builder.sslContext(trustAll());
    }
    try {
      var response = builder.build().send(
          HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(timeoutSeconds)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() == 200) {
        System.out.println(uri + ": " + response.body().trim());
        return 0;
      }
      System.err.println("buckcache: " + uri + " answered " + response.statusCode());
    } catch (java.net.ConnectException e) {
      System.err.println("buckcache: " + uri + ": nothing answers (connection refused)");
    } catch (java.io.IOException e) {
      System.err.println("buckcache: " + uri + ": " + (e.getMessage() == null ? e : e.getMessage()));
    }
    return Main.EXIT_FAILURE;
  }

  private static boolean isLoopback(URI uri) {
    var host = uri.getHost();
    return host != null && (host.equals("127.0.0.1") || host.equals("localhost") || host.equals("[::1]"));
  }

  /** Extended, so that JSSE leaves the host name check to it too (and it checks nothing). */
  private static SSLContext trustAll() throws Exception {
    var trustAll = new X509ExtendedTrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {}

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    var context = SSLContext.getInstance("TLS");
    context.init(null, new TrustManager[] {trustAll}, new SecureRandom());
    return context;
  }
}
