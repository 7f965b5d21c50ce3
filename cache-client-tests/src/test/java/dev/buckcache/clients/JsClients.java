package dev.buckcache.clients;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * turbo and nx from the npm registry, installed by scripts/install-test-deps into one
 * node_modules ({@code BUCKCACHE_JS_CLIENTS}, default /opt/buckcache-test-deps/js-clients). A test
 * workspace links to it, so each client runs as the workspace's own local install.
 */
final class JsClients {
  private JsClients() {}

  static Path home() {
    return Path.of(System.getenv().getOrDefault("BUCKCACHE_JS_CLIENTS",
        "/opt/buckcache-test-deps/js-clients"));
  }

  /** The client's executable; fails under CI=true (skips elsewhere) when it is not installed. */
  static Path require(String name) {
    Clients.require("node");
    var bin = home().resolve("node_modules/.bin/" + name);
    Clients.requireExecutable(bin, name + " from npm");
    return bin;
  }

  /** Makes {@code workspace/node_modules} the installed clients' node_modules. */
  static void link(Path workspace) throws Exception {
    Files.createSymbolicLink(workspace.resolve("node_modules"), home().resolve("node_modules"));
  }

  /** A build script that writes {@code dist/out.txt} with this text. */
  static String buildScript(String text) {
    return "node -e \\\"require('fs').mkdirSync('dist',{recursive:true});"
        + "require('fs').writeFileSync('dist/out.txt','" + text + "\\\\n')\\\"";
  }

  /**
   * The variables a {@code buckcache client-config} snippet exports ({@code export K=V} lines),
   * with {@code "$VAR"} taken from {@code vars}, as a shell would set them.
   */
  static java.util.Map<String, String> exports(String snippet, java.util.Map<String, String> vars) {
    var out = new java.util.HashMap<String, String>();
    var line = java.util.regex.Pattern.compile("^export ([A-Z_]+)=(.*)$", java.util.regex.Pattern.MULTILINE)
        .matcher(snippet);
    while (line.find()) {
      var value = line.group(2);
      var ref = java.util.regex.Pattern.compile("^\"\\$([A-Z_]+)\"$").matcher(value);
      out.put(line.group(1), ref.matches() ? vars.get(ref.group(1)) : value);
    }
    return out;
  }
}
