package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A small Bazel 4 workspace (genrules, a cc_binary, an output directory) that builds offline:
 * rules_cc and rules_java are overridden by local stand-ins (see PROTOCOLS.md).
 */
final class BazelWorkspace {
  private static final Pattern REMOTE_HITS = Pattern.compile("(\\d+) remote cache hit");
  private static final Pattern PROCESSES = Pattern.compile("INFO: (\\d+) processes?: (.*)\\.");

  final Path root;
  private final Path workspace;
  private final Path outputRoot;
  private final Map<String, String> env;

  BazelWorkspace(Path dir) throws IOException, URISyntaxException {
    this.root = dir;
    var source = Path.of(BazelWorkspace.class.getResource("/bazel").toURI());
    copy(source, dir.resolve("src"));
    this.workspace = dir.resolve("src/workspace");
    this.outputRoot = dir.resolve("output-root");
    var home = Files.createDirectories(dir.resolve("home"));
    this.env = Map.of("HOME", home.toString());
  }

  private static void copy(Path from, Path to) throws IOException {
    try (var files = Files.walk(from)) {
      for (var f : files.toList()) {
        var target = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(target);
        } else {
          Files.copy(f, target);
        }
      }
    }
  }

  private final List<String> startupOptions = new ArrayList<>();

  /** Startup options (before the command), e.g. --host_jvm_args for the Bazel server's JVM. */
  void startupOption(String option) {
    startupOptions.add(option);
  }

  Clients.Result bazel(String command, List<String> flags) throws Exception {
    var args = new ArrayList<>(List.of("bazel", "--output_user_root=" + outputRoot));
    args.addAll(startupOptions);
    args.add(command);
    if (!command.equals("clean") && !command.equals("shutdown")) {
      args.add("--override_repository=rules_cc=" + root.resolve("src/rules_cc"));
      args.add("--override_repository=rules_java=" + root.resolve("src/rules_java"));
      args.add("--spawn_strategy=local");
      args.addAll(flags);
      args.add("//...");
    }
    var result = Clients.run(workspace, env, 600, args);
    assertThat(result.exitCode()).as("bazel %s:\n%s", command, result.output()).isZero();
    return result;
  }

  /** The build summary, e.g. {@code 13 processes: 7 remote cache hit, 6 internal}. */
  static String summary(Clients.Result r) {
    var m = PROCESSES.matcher(r.output());
    String last = null;
    while (m.find()) {
      last = m.group(0);
    }
    return last == null ? "" : last;
  }

  static int remoteHits(Clients.Result r) {
    var m = REMOTE_HITS.matcher(summary(r));
    return m.find() ? Integer.parseInt(m.group(1)) : 0;
  }

  /** Actions that ran a process (local or linux-sandbox), i.e. the cacheable ones. */
  static int executed(Clients.Result r) {
    var m = Pattern.compile("(\\d+) (local|linux-sandbox|processwrapper-sandbox)").matcher(summary(r));
    int n = 0;
    while (m.find()) {
      n += Integer.parseInt(m.group(1));
    }
    return n;
  }

  /** A build, {@code bazel clean}, and the same build again. */
  record CleanRebuild(Clients.Result first, Clients.Result second) {
    /** Cacheable actions: executed in the first build, or already hits there. */
    int actions() {
      return executed(first) + remoteHits(first);
    }

    String summary() {
      return "first build " + BazelWorkspace.summary(first) + "; after clean " + BazelWorkspace.summary(second);
    }
  }

  CleanRebuild cleanRebuild(List<String> flags) throws Exception {
    var first = bazel("build", flags);
    bazel("clean", List.of());
    return new CleanRebuild(first, bazel("build", flags));
  }

  void shutdown() throws Exception {
    var args = new ArrayList<>(List.of("bazel", "--output_user_root=" + outputRoot));
    args.addAll(startupOptions);
    args.add("shutdown");
    Clients.run(workspace, env, 120, args);
  }
}
