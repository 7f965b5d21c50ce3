package dev.buckcache.cli;

import java.net.URI;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code buckcache buckconfig}: prints the {@code .buckconfig} sections and the execution-platform
 * setting a Buck2 repo needs to use this cache (Buck2 speaks only REAPI gRPC; it has no HTTP
 * cache and no {@code http_cache_url}).
 */
@Command(name = "buckconfig", mixinStandardHelpOptions = true,
    description = "Prints a working Buck2 .buckconfig for this cache, and the platform setting.")
final class BuckconfigCommand implements Callable<Integer> {
  @Option(names = "--address", required = true, paramLabel = "grpc://HOST:PORT",
      description = "the cache's gRPC address, as Buck2 should reach it")
  String address;

  @Option(names = "--tls", description = "the server runs with --tls-cert (Buck2's default is TLS)")
  boolean tls;

  @Option(names = "--ca", paramLabel = "PEM", description = "CA certificate Buck2 should trust (with --tls)")
  String ca;

  @Option(names = "--instance", paramLabel = "NAME", description = "instance name")
  String instance;

  @Option(names = "--token-env", paramLabel = "VAR",
      description = "environment variable that holds the bearer token, e.g. BUCKCACHE_TOKEN")
  String tokenEnv;

  @Option(names = "--digest", defaultValue = "SHA256", paramLabel = "SHA256|BLAKE3",
      description = "Buck2's digest_algorithms (BLAKE3 needs the instance set to blake3 on the server)")
  String digest;

  @Override
  public Integer call() {
    URI uri;
    try {
      uri = URI.create(address);
    } catch (IllegalArgumentException e) {
      uri = null;
    }
    if (uri == null || !"grpc".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() < 0) {
      System.err.println("buckcache: --address must be grpc://HOST:PORT (Buck2 takes grpc://, "
          + "not grpcs:// or http://; TLS is the separate tls setting)");
      return Main.EXIT_CONFIG;
    }
    var digestName = digest.trim().toUpperCase(java.util.Locale.ROOT);
    if (!digestName.equals("SHA256") && !digestName.equals("BLAKE3")) {
      System.err.println("buckcache: --digest must be SHA256 or BLAKE3");
      return Main.EXIT_CONFIG;
    }
    var out = new StringBuilder();
    out.append("# .buckconfig: Buck2 using buckcache at ").append(address).append(" as its cache.\n")
        .append("# The Buck2 daemon reads this once at start: run `buck2 kill` after changing it.\n")
        .append("[buck2_re_client]\n")
        .append("engine_address = ").append(address).append('\n')
        .append("cas_address = ").append(address).append('\n')
        .append("action_cache_address = ").append(address).append('\n')
        .append("tls = ").append(tls).append('\n');
    if (tls && ca != null) {
      out.append("tls_ca_certs = ").append(ca).append('\n');
    }
    if (instance != null) {
      out.append("instance_name = ").append(instance).append('\n');
    }
    if (tokenEnv != null) {
      out.append("http_headers = Authorization: Bearer $").append(tokenEnv).append('\n');
    }
    out.append("\n[buck2]\ndigest_algorithms = ").append(digestName).append('\n');
    if (digestName.equals("BLAKE3")) {
      out.append("# server side: buckcache serve --digest-instances ")
          .append(instance == null ? "\"\"" : instance).append("=blake3\n");
    }
    out.append("\n# In your execution platform (e.g. platforms/BUCK), turn the cache on:\n")
        .append("#   CommandExecutorConfig(\n")
        .append("#       local_enabled = True,\n")
        .append("#       remote_enabled = False,\n")
        .append("#       remote_cache_enabled = True,\n")
        .append("#       allow_cache_uploads = True,\n")
        .append("#   )\n");
    System.out.print(out);
    return 0;
  }
}
