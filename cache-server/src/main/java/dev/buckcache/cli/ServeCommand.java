package dev.buckcache.cli;

import dev.buckcache.config.ConfigLoader;
import dev.buckcache.server.BuckcacheServer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code buckcache serve}: runs the cache until SIGTERM or SIGINT. Its setting flags are made from
 * {@link ConfigLoader#ALL}, so the help text, keys and defaults have one source.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = {
      "Runs the cache server until SIGTERM/SIGINT, then stops gracefully.",
      "Each setting can also come from the YAML file (key in brackets) or a BUCKCACHE_* env var;",
      "flags win over env, env over the file. Sizes: 10GB and 512MB are decimal, 1GiB binary."
    })
final class ServeCommand implements Callable<Integer> {
  @Option(names = "--config", paramLabel = "FILE", description = "YAML config file")
  Path configFile;

  @Spec CommandSpec spec;

  /** The command with one option per setting. */
  static CommandSpec spec() {
    var spec = CommandSpec.forAnnotatedObject(new ServeCommand());
    for (var s : ConfigLoader.ALL) {
      var option = OptionSpec.builder(s.flag())
          .type(String.class)
          .description(s.help() + " [" + s.key() + "]"
              + (s.isSwitch() ? "" : " (default " + s.defaultValue() + ")"));
      if (s.isSwitch()) {
        option.arity("0..1").fallbackValue("true"); // --access-log, or --access-log false
      } else if (s.equals(ConfigLoader.JWT_KEYS)) {
        option.type(String[].class).paramLabel(s.paramLabel()); // repeatable
      } else {
        option.paramLabel(s.paramLabel());
      }
      spec.addOption(option.build());
    }
    return spec;
  }

  @Override
  public Integer call() throws InterruptedException {
    var loader = new ConfigLoader(System.getenv(), Runtime.getRuntime().maxMemory(),
        dev.buckcache.config.MemoryPlan.jvmMaxDirect());
    var config = loader.load(configFile, flags());
    var server = BuckcacheServer.start(config);
    var stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      stopped.countDown();
    }, "buckcache-shutdown"));
    server.announceReady();
    stopped.await();
    return 0;
  }

  private Map<String, String> flags() {
    var flags = new HashMap<String, String>();
    for (var s : ConfigLoader.ALL) {
      Object value = spec.findOption(s.flag()).getValue();
      if (value instanceof String[] many) {
        flags.put(s.key(), String.join(",", many));
      } else if (value != null) {
        flags.put(s.key(), (String) value);
      }
    }
    return flags;
  }
}
