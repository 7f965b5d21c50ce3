package dev.buckcache.cli;

import java.net.URI;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code buckcache client-config TOOL}: prints a working snippet for each build tool that can use
 * this cache, with the token taken from an environment variable where it runs. Buck2's is
 * {@code buckcache buckconfig}'s output. Each snippet is what the real-client tests run
 * (GradleClientTest, TurboClientTest, NxClientTest use this output as printed).
 *
 * <p>Design notes, per tool: Gradle's only credential form is a user and password, so the token
 * is the password (the server takes Basic with the token as password). Bazel's .bazelrc expands
 * no variables, so the token goes on the command line or in a file CI writes. ccache expands
 * {@code ${VAR}} in its configuration and sends {@code bearer-token} as Bearer. Pants interpolates
 * {@code %(env.VAR)s}. Turborepo and Nx are configured by environment variables alone.
 */
@Command(name = "client-config", mixinStandardHelpOptions = true,
    description = {"Prints a working configuration snippet for a build tool to use this cache, "
        + "with the token read from an environment variable (--token-env).",
        "TOOL: buck2, bazel, pants, ccache, gradle, turbo or nx."})
final class ClientConfigCommand implements Callable<Integer> {
  enum Tool { buck2, bazel, pants, ccache, gradle, turbo, nx }

  @Parameters(index = "0", paramLabel = "TOOL", description = "one of: ${COMPLETION-CANDIDATES}")
  Tool tool;

  @Option(names = "--url", defaultValue = "http://127.0.0.1:8080", paramLabel = "http(s)://HOST:PORT",
      description = "the cache's HTTP port as clients reach it (default: ${DEFAULT-VALUE}); it "
          + "serves gRPC too, so Buck2, Bazel and Pants get grpc:// (https: grpcs://) on it")
  String url;

  @Option(names = "--token-env", paramLabel = "VAR",
      description = "environment variable that holds the token where the tool runs, e.g. "
          + "BUCKCACHE_TOKEN; without it the snippet sends no credentials")
  String tokenEnv;

  @Option(names = "--instance", paramLabel = "NAME",
      description = "instance (for turbo: the team) the tool's entries go to")
  String instance;

  @Option(names = "--read-only", description = "for a read token: the tool reads and never uploads")
  boolean readOnly;

  @Override
  public Integer call() {
    URI base;
    try {
      base = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
    } catch (IllegalArgumentException e) {
      base = null;
    }
    if (base == null || !("http".equals(base.getScheme()) || "https".equals(base.getScheme()))
        || base.getHost() == null || (base.getPath() != null && !base.getPath().isEmpty())
        || base.getRawQuery() != null || base.getRawFragment() != null || base.getRawUserInfo() != null) {
      System.err.println("buckcache: --url must be http://HOST:PORT or https://HOST:PORT (no path,"
          + " query or credentials; name an instance with --instance)");
      return Main.EXIT_CONFIG;
    }
    if (tokenEnv != null && !tokenEnv.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      System.err.println("buckcache: --token-env must be a variable name such as BUCKCACHE_TOKEN");
      return Main.EXIT_CONFIG;
    }
    if (instance != null && (!instance.matches("[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
        || java.util.Arrays.asList(instance.split("/")).stream().anyMatch(p -> p.matches("\\.+")))) {
      System.err.println("buckcache: --instance must be a name such as team-a");
      return Main.EXIT_CONFIG;
    }
    var http = base.toString();
    boolean tls = "https".equals(base.getScheme());
    int port = base.getPort() >= 0 ? base.getPort() : tls ? 443 : 80;
    var grpc = (tls ? "grpcs://" : "grpc://") + base.getHost() + ":" + port;
    if (tool == Tool.buck2) {
      return buck2(base, port, tls);
    }
    System.out.print(switch (tool) {
      case bazel -> bazel(grpc);
      case pants -> pants(grpc);
      case ccache -> ccache(base, port);
      case gradle -> gradle(http);
      case turbo -> turbo(http);
      case nx -> nx(http);
      case buck2 -> throw new AssertionError();
    });
    return 0;
  }

  private String prefix(String http) {
    return instance == null ? http : http + "/" + instance;
  }

  private int buck2(URI base, int port, boolean tls) {
    var args = new java.util.ArrayList<>(java.util.List.of("--address",
        "grpc://" + base.getHost() + ":" + port));
    if (tls) {
      args.add("--tls");
    }
    if (tokenEnv != null) {
      args.addAll(java.util.List.of("--token-env", tokenEnv));
    }
    if (instance != null) {
      args.addAll(java.util.List.of("--instance", instance));
    }
    if (readOnly) {
      args.add("--read-only");
    }
    return new picocli.CommandLine(new BuckconfigCommand()).execute(args.toArray(String[]::new));
  }

  private String bazel(String grpc) {
    var out = new StringBuilder("# .bazelrc: Bazel with buckcache as its remote cache (REAPI gRPC on the HTTP port).\n")
        .append("build --remote_cache=").append(grpc).append('\n');
    if (instance != null) {
      out.append("build --remote_instance_name=").append(instance).append('\n');
    }
    if (readOnly) {
      out.append("# A read token: read the cache, never upload.\n")
          .append("build --remote_upload_local_results=false\n");
    }
    if (tokenEnv != null) {
      out.append("# .bazelrc expands no variables: pass the token where the build runs,\n")
          .append("#   bazel build --remote_header=\"Authorization=Bearer $").append(tokenEnv).append("\" //...\n")
          .append("# or have CI write it to a file this .bazelrc imports:\n")
          .append("#   echo \"build --remote_header=Authorization=Bearer $").append(tokenEnv)
          .append("\" > .bazelrc.user\n")
          .append("try-import %workspace%/.bazelrc.user\n");
    }
    return out.toString();
  }

  private String pants(String grpc) {
    var out = new StringBuilder("# pants.toml: Pants (2.17 checked) with buckcache as its remote cache.\n")
        .append("[GLOBAL]\nremote_cache_read = true\n")
        .append("remote_cache_write = ").append(!readOnly).append('\n')
        .append("remote_store_address = \"").append(grpc).append("\"\n")
        .append("remote_instance_name = \"").append(instance == null ? "pants" : instance).append("\"\n");
    if (tokenEnv != null) {
      out.append("# .add keeps Pants' own headers (its user-agent).\n")
          .append("remote_store_headers.add = { \"Authorization\" = \"Bearer %(env.").append(tokenEnv)
          .append(")s\" }\n");
    }
    return out.toString();
  }

  private String ccache(URI base, int port) {
    var out = new StringBuilder("# ccache.conf (ccache 4.4+; bearer-token needs 4.7), or "
        + "CCACHE_REMOTE_STORAGE set to the value.\n");
    if (tokenEnv != null) {
      out.append("# ccache expands ${").append(tokenEnv).append("} from the environment.\n");
    }
    out.append("remote_storage = ").append(base.getScheme()).append("://")
        .append(base.getHost()).append(':').append(port).append('/')
        .append(instance == null ? "ccache" : instance).append("|layout=bazel")
        .append(tokenEnv == null ? "" : "|bearer-token=${" + tokenEnv + "}")
        .append(readOnly ? "|read-only=true" : "").append('\n');
    return out.toString();
  }

  private String gradle(String http) {
    var out = new StringBuilder("""
        // settings.gradle: Gradle's HTTP build cache on buckcache. Build with --build-cache
        // (or org.gradle.caching=true in gradle.properties).
        buildCache {
          remote(HttpBuildCache) {
        """).append("    url = '").append(prefix(http)).append("/gradle/'\n");
    if (http.startsWith("http:")) {
      out.append("    // Gradle 7+ refuses an http:// cache without this; Gradle 4 and 5 have no such setting.\n")
          .append("    if (delegate.hasProperty('allowInsecureProtocol')) { allowInsecureProtocol = true }\n");
    }
    if (tokenEnv != null) {
      out.append("    // Gradle's only credential form is a user and password: the token is the password.\n")
          .append("    credentials {\n      username = 'buckcache'\n      password = System.getenv('")
          .append(tokenEnv).append("')\n    }\n");
    }
    if (readOnly) {
      out.append("    push = false\n");
    } else {
      out.append("    // Upload from CI only, e.g. System.getenv('CI') != null. With a read token it must be\n")
          .append("    // false: newer Gradle versions fail the build when an upload is refused (403).\n")
          .append("    push = true\n");
    }
    return out.append("  }\n}\n").toString();
  }

  /**
   * The team is the instance's last segment; what comes before it, a path prefix of TURBO_API
   * (the server reads {@code /PREFIX/v8/...?slug=TEAM} as instance PREFIX/TEAM).
   */
  private String turbo(String http) {
    var name = instance == null ? "default" : instance;
    int slash = name.lastIndexOf('/');
    var api = slash < 0 ? http : http + "/" + name.substring(0, slash);
    var out = new StringBuilder("# Turborepo (2.11 checked) with buckcache as its remote cache: set these where turbo runs.\n")
        .append("export TURBO_API=").append(api).append('\n')
        .append("# The team is the buckcache instance its artifacts go to.\n")
        .append("export TURBO_TEAM=").append(name.substring(slash + 1)).append('\n');
    if (tokenEnv != null) {
      out.append("export TURBO_TOKEN=\"$").append(tokenEnv).append("\"\n");
    }
    out.append("export TURBO_TELEMETRY_DISABLED=1\n")
        .append("# Then: turbo run build").append(readOnly ? " --cache=local:rw,remote:r" : "")
        .append('\n');
    return out.toString();
  }

  private String nx(String http) {
    var out = new StringBuilder("# Nx (24 checked) with buckcache as its self-hosted remote cache: set these where nx runs.\n")
        .append("export NX_SELF_HOSTED_REMOTE_CACHE_SERVER=").append(prefix(http)).append('\n');
    if (tokenEnv != null) {
      out.append("export NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN=\"$").append(tokenEnv).append("\"\n");
    }
    if (readOnly) {
      out.append("# A read token reads; Nx takes its refused uploads (403) quietly.\n");
    }
    return out.toString();
  }
}
