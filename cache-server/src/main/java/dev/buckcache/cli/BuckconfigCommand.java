package dev.buckcache.cli;

import java.net.URI;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code buckcache buckconfig}: prints the {@code .buckconfig} sections and the execution platform
 * a Buck2 repo needs to use this cache (Buck2 speaks only REAPI gRPC; it has no HTTP cache and no
 * {@code http_cache_url}).
 *
 * <p>Design notes: the output must work as pasted under a repo's {@code [cells]},
 * {@code [buildfile]} and {@code [build]} sections, so it prints only keys that Buck2's own
 * configuration code reads ({@code buck2_re_configuration} for {@code [buck2_re_client]};
 * {@code buck2_common} and {@code buck2_server} for {@code [buck2]}), and everything else
 * (the platform, the genrule caveat) as comments. Facts it relies on, from Buck2's source:
 * without {@code [buck2] default_allow_cache_upload = true} Buck2 uploads no action result at
 * all; the prelude's genrule overrides that default and uploads only when its {@code labels} ask
 * for local execution; {@code tls} defaults to true; {@code http_headers}, {@code tls_ca_certs}
 * and {@code tls_client_cert} expand {@code $VARS} and fail when a variable is unset;
 * {@code tls_client_cert} is one PEM file holding the certificate and its key.
 */
@Command(name = "buckconfig", mixinStandardHelpOptions = true,
    description = {"Prints the .buckconfig sections and the execution platform for Buck2 to use "
        + "this cache: paste them into your repo's .buckconfig next to [cells] and [build].",
        "The genrule caveat and the platform are printed as comments."})
final class BuckconfigCommand implements Callable<Integer> {
  @Option(names = "--address", defaultValue = "grpc://127.0.0.1:8080", paramLabel = "grpc://HOST:PORT",
      description = "the cache's gRPC address as Buck2 should reach it (default: ${DEFAULT-VALUE}); "
          + "grpc:// also with TLS")
  String address;

  @Option(names = "--tls", description = "the server runs with --tls-cert (Buck2's default is TLS)")
  boolean tls;

  @Option(names = "--ca", paramLabel = "PEM",
      description = "CA certificate file Buck2 should trust (tls_ca_certs; implies --tls)")
  String ca;

  @Option(names = "--client-cert", paramLabel = "PEM",
      description = "for mTLS: one PEM file with the client certificate and its key "
          + "(tls_client_cert; implies --tls)")
  String clientCert;

  @Option(names = "--instance", paramLabel = "NAME", description = "instance name")
  String instance;

  @Option(names = "--token-env", paramLabel = "VAR",
      description = "environment variable that holds the bearer token, e.g. BUCKCACHE_TOKEN "
          + "(sent as http_headers = Authorization: Bearer $VAR)")
  String tokenEnv;

  @Option(names = "--digest", defaultValue = "SHA256", paramLabel = "SHA256|BLAKE3",
      description = "Buck2's digest_algorithms (BLAKE3 needs the instance set to blake3 on the "
          + "server: serve --digest-instances NAME=blake3)")
  String digest;

  @Option(names = "--read-only",
      description = "for laptops with a read token: the platform gets allow_cache_uploads = False, "
          + "so Buck2 reads the cache and never tries to upload")
  boolean readOnly;

  @Override
  public Integer call() {
    if (!validAddress()) {
      System.err.println("buckcache: --address must be grpc://HOST:PORT (Buck2 takes grpc://, "
          + "not grpcs:// or http://; TLS is the separate tls setting)");
      return Main.EXIT_CONFIG;
    }
    var digestName = digest.trim().toUpperCase(Locale.ROOT);
    if (!digestName.equals("SHA256") && !digestName.equals("BLAKE3")) {
      System.err.println("buckcache: --digest must be SHA256 or BLAKE3");
      return Main.EXIT_CONFIG;
    }
    if (tokenEnv != null && !tokenEnv.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      System.err.println("buckcache: --token-env must be a variable name such as BUCKCACHE_TOKEN");
      return Main.EXIT_CONFIG;
    }
    var out = new StringBuilder();
    header(out);
    reClient(out);
    buck2(out, digestName);
    platform(out);
    System.out.print(out);
    return 0;
  }

  private boolean validAddress() {
    try {
      var uri = URI.create(address);
      return "grpc".equals(uri.getScheme()) && uri.getHost() != null && uri.getPort() >= 0;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private void header(StringBuilder out) {
    out.append("# .buckconfig sections for Buck2 with buckcache at ").append(address)
        .append(" as its remote cache.\n")
        .append("# Paste them into your repo's .buckconfig, next to [cells], [buildfile] and [build].\n")
        .append("# The Buck2 daemon reads them once at start: run `buck2 kill` after changing them.\n");
  }

  private void reClient(StringBuilder out) {
    boolean useTls = tls || ca != null || clientCert != null;
    out.append("\n[buck2_re_client]\n")
        .append("# All three addresses are needed, even for a cache only; grpc:// also with TLS.\n")
        .append("engine_address = ").append(address).append('\n')
        .append("cas_address = ").append(address).append('\n')
        .append("action_cache_address = ").append(address).append('\n')
        .append("# Buck2's default is tls = true.\n")
        .append("tls = ").append(useTls).append('\n');
    if (ca != null) {
      out.append("# The CA to trust (PEM). $VARS are expanded; a relative path is read from where "
          + "the daemon runs: prefer an absolute one.\n").append("tls_ca_certs = ").append(ca).append('\n');
    }
    if (clientCert != null) {
      out.append("# mTLS: one PEM file holding the client certificate and its private key.\n")
          .append("tls_client_cert = ").append(clientCert).append('\n');
    }
    if (instance != null) {
      out.append("instance_name = ").append(instance).append('\n');
    }
    if (tokenEnv != null) {
      out.append("# $").append(tokenEnv).append(" must be set where buck2 starts its daemon; "
          + "Buck2 fails if it is unset.\n")
          .append("http_headers = Authorization: Bearer $").append(tokenEnv).append('\n');
    }
  }

  private void buck2(StringBuilder out, String digestName) {
    out.append("\n[buck2]\n");
    if (digestName.equals("BLAKE3")) {
      out.append("# Buck2 does not tell the server which function it uses: start the server with\n")
          .append("#   buckcache serve --digest-instances ")
          .append(instance == null ? "\"\"" : instance).append("=blake3\n");
    }
    out.append("digest_algorithms = ").append(digestName).append('\n')
        .append("# Without this line Buck2 uploads no result at all, and every warm build misses.\n")
        .append("default_allow_cache_upload = true\n")
        .append("# Caveat: the prelude's genrule overrides that default. A genrule uploads only when\n")
        .append("# its labels ask for local execution (the prelude's genrule_prefer_local_labels.bzl\n")
        .append("# or genrule_local_labels.bzl) and cacheable is not False. On a cache-only platform\n")
        .append("# everything runs locally anyway, so give cacheable genrules\n")
        .append("#   labels = [\"large_copy\"],\n")
        .append("# Other rules' actions follow default_allow_cache_upload.\n");
  }

  /** The platform, as comments; {@code %s} is allow_cache_uploads. */
  // A template of some thirty lines reads better on its own than inline in the format call.
  @SuppressWarnings("InlineFormatString")
  private static final String PLATFORM = """

      # The execution platform that reads%s the cache. In .buckconfig:
      #   [build]
      #   execution_platforms = root//platforms:buckcache
      # platforms/BUCK:
      #   load(":buckcache.bzl", "buckcache_platform")
      #   buckcache_platform(name = "buckcache")
      # platforms/buckcache.bzl:
      #   def _impl(ctx):
      #       platform = ExecutionPlatformInfo(
      #           label = ctx.label.raw_target(),
      #           configuration = ConfigurationInfo(constraints = {}, values = {}),
      #           executor_config = CommandExecutorConfig(
      #               local_enabled = True,
      #               remote_enabled = False,
      #               remote_cache_enabled = True,
      #               allow_cache_uploads = %s,
      #           ),
      #       )
      #       return [DefaultInfo(), ExecutionPlatformRegistrationInfo(platforms = [platform])]
      #
      #   buckcache_platform = rule(impl = _impl, attrs = {})
      """;

  private void platform(StringBuilder out) {
    out.append(String.format(Locale.ROOT, PLATFORM, readOnly ? " (and never writes)" : " and writes",
        readOnly ? "False" : "True"));
    if (readOnly) {
      out.append("# Read-only (a read token): without allow_cache_uploads = False Buck2 retries its\n")
          .append("# upload probe and prints a warning before every action it runs locally.\n");
    } else {
      out.append("# Laptops with a read token: print this with --read-only (allow_cache_uploads = False).\n");
    }
  }
}
