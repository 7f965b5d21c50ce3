package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Runs real client programs. A missing client fails the test under CI=true, else skips it. */
public final class Clients {
  private Clients() {}

  public static void require(String program) {
    for (var dir : System.getenv().getOrDefault("PATH", "").split(":", -1)) {
      if (Files.isExecutable(Path.of(dir, program))) {
        return;
      }
    }
    missing(program);
  }

  /** Like {@link #require}, for a client installed at a fixed path (e.g. in a venv). */
  public static void requireExecutable(Path program, String what) {
    if (!Files.isExecutable(program)) {
      missing(what + " (" + program + ")");
    }
  }

  private static void missing(String what) {
    var message = what + " is not installed (run scripts/install-test-deps as root)";
    if ("true".equals(System.getenv("CI"))) {
      fail(message + ": real-client tests must not skip under CI");
    }
    Assumptions.abort(message);
  }

  /**
   * The text without terminal colour codes: clients colour their output when they see CI=true
   * (nx does), and tests look for the words.
   */
  static String plain(String output) {
    return output.replaceAll("\u001B\\[[0-9;?]*[A-Za-z]", "");
  }

  /** The remote storage hits {@code ccache -s -v} counts since its last {@code -z}. */
  static int ccacheRemoteHits(Path dir, Map<String, String> env) throws Exception {
    var stats = run(dir, env, 60, "ccache", "-s", "-v").output();
    var m = java.util.regex.Pattern.compile("Remote storage:\\s+Hits:\\s+(\\d+)").matcher(stats);
    org.assertj.core.api.Assertions.assertThat(m.find()).as(stats).isTrue();
    return Integer.parseInt(m.group(1));
  }

  /** The result of a finished command. The output has no colour codes ({@link #plain}). */
  public record Result(int exitCode, String output) {}

  public static Result run(Path workDir, Map<String, String> env, long timeoutSeconds,
      String... command) throws IOException, InterruptedException {
    return run(workDir, env, timeoutSeconds, List.of(command));
  }

  public static Result run(Path workDir, Map<String, String> env, long timeoutSeconds,
      List<String> command) throws IOException, InterruptedException {
    var builder = new ProcessBuilder(new ArrayList<>(command)).directory(workDir.toFile())
        .redirectErrorStream(true);
    builder.environment().putAll(env);
    var process = builder.start();
    var out = new StringBuilder();
    var reader = new Thread(() -> {
      try {
        out.append(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        // process ended
      }
    });
    reader.start();
    if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      reader.join(5000);
      fail(String.join(" ", command) + " timed out after " + timeoutSeconds + " s:\n" + out);
    }
    reader.join(10_000);
    return new Result(process.exitValue(), plain(out.toString()));
  }
}
