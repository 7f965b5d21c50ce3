package dev.buckcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The snippets of {@code buckcache client-config}. Gradle's, Turborepo's and Nx's are run as
 * printed by their real clients (GradleClientTest, TurboClientTest, NxClientTest); these check
 * what each says per option, and the refusals.
 */
class ClientConfigCommandTest {
  private static String print(String... args) {
    var all = new String[args.length + 1];
    all[0] = "client-config";
    System.arraycopy(args, 0, all, 1, args.length);
    var r = BuckconfigCommandTest.run(all);
    assertThat(r[0]).as(r[2]).isEqualTo("0");
    return r[1];
  }

  @Test
  void gradle_urlWithInstance_tokenAsPassword_readOnlyNeverPushes() {
    var s = print("gradle", "--url", "https://cache.example:8443", "--token-env", "CACHE_TOKEN",
        "--instance", "android");
    assertThat(s).contains("url = 'https://cache.example:8443/android/gradle/'")
        .contains("password = System.getenv('CACHE_TOKEN')").contains("push = true");
    assertThat(s).doesNotContain("allowInsecureProtocol"); // https
    assertThat(print("gradle", "--read-only")).contains("url = 'http://127.0.0.1:8080/gradle/'")
        .contains("push = false").doesNotContain("credentials")
        .contains("if (delegate.hasProperty('allowInsecureProtocol')) { allowInsecureProtocol = true }");
  }

  @Test
  void turboAndNx_environmentOnly() {
    assertThat(print("turbo", "--url", "http://c:8080", "--token-env", "T", "--instance", "web"))
        .contains("export TURBO_API=http://c:8080\n").contains("export TURBO_TEAM=web\n")
        .contains("export TURBO_TOKEN=\"$T\"\n").contains("# Then: turbo run build\n");
    assertThat(print("turbo", "--read-only")).contains("--cache=local:rw,remote:r")
        .contains("export TURBO_TEAM=default");
    // A nested instance: the prefix goes into TURBO_API, the last segment is the team.
    assertThat(print("turbo", "--url", "http://c:8080", "--instance", "org/web"))
        .contains("export TURBO_API=http://c:8080/org\n").contains("export TURBO_TEAM=web\n");
    assertThat(print("nx", "--url", "http://c:8080", "--token-env", "T", "--instance", "js"))
        .contains("export NX_SELF_HOSTED_REMOTE_CACHE_SERVER=http://c:8080/js\n")
        .contains("export NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN=\"$T\"\n");
  }

  @Test
  void grpcTools_getGrpcOnTheHttpPort_grpcsUnderTls() {
    var bazel = print("bazel", "--url", "https://cache.example:8443", "--token-env", "T", "--read-only");
    assertThat(bazel).contains("build --remote_cache=grpcs://cache.example:8443\n")
        .contains("build --remote_upload_local_results=false\n")
        .contains("--remote_header=\"Authorization=Bearer $T\"")
        .contains("try-import %workspace%/.bazelrc.user");
    var pants = print("pants", "--token-env", "T", "--read-only", "--instance", "py");
    assertThat(pants).contains("remote_store_address = \"grpc://127.0.0.1:8080\"")
        .contains("remote_cache_write = false").contains("remote_instance_name = \"py\"")
        .contains("remote_store_headers.add = { \"Authorization\" = \"Bearer %(env.T)s\" }");
    var buck2 = print("buck2", "--url", "https://cache.example:8443", "--token-env", "T");
    assertThat(buck2).contains("engine_address = grpc://cache.example:8443").contains("tls = true")
        .contains("http_headers = Authorization: Bearer $T");
  }

  @Test
  void ccache_bearerTokenFromTheEnvironment_readOnlyAttribute() {
    assertThat(print("ccache", "--url", "http://c:8080", "--token-env", "T", "--read-only"))
        .contains("remote_storage = http://c:8080/ccache|layout=bazel|bearer-token=${T}|read-only=true\n");
    assertThat(print("ccache")).contains("remote_storage = http://127.0.0.1:8080/ccache|layout=bazel\n");
  }

  @Test
  void badUrlTokenVariableOrTool_refusedWithExitCode2() {
    for (var args : new String[][] {{"gradle", "--url", "grpc://c:1"}, {"gradle", "--url", "http://c:1/x"},
        {"turbo", "--url", "http://c:1?x=1"}, {"nx", "--url", "http://u:p@c:1"},
        {"nx", "--token-env", "not a var"}, {"nx", "--instance", "../up"}}) {
      var r = BuckconfigCommandTest.run(java.util.stream.Stream.concat(
          java.util.stream.Stream.of("client-config"), java.util.Arrays.stream(args)).toArray(String[]::new));
      assertThat(r[0]).as(String.join(" ", args)).isEqualTo("2");
      assertThat(r[2]).startsWith("buckcache: --");
    }
    var unknown = BuckconfigCommandTest.run("client-config", "maven");
    assertThat(unknown[0]).isEqualTo("2");
    assertThat(unknown[2]).contains("buck2, bazel, pants, ccache, gradle, turbo, nx");
  }
}
