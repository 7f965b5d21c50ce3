package dev.buckcache.cli;

import dev.buckcache.config.ConfigException;
import dev.buckcache.config.ConfigLoader;
import dev.buckcache.storage.shared.BackendMeter;
import dev.buckcache.storage.shared.S3ObjectStore;
import dev.buckcache.storage.shared.S3Settings;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code buckcache s3}: operations on the shared tier's bucket. */
@Command(name = "s3", mixinStandardHelpOptions = true,
    description = "Operations on the shared tier's S3 bucket.")
final class S3Command implements Runnable {
  @Spec CommandSpec spec;

  static CommandSpec spec() {
    return CommandSpec.forAnnotatedObject(new S3Command())
        .addSubcommand("lifecycle", LifecycleCommand.spec());
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /**
   * {@code buckcache s3 lifecycle [--apply]}: the bucket lifecycle rule that expires objects
   * after s3.retention_days, as the JSON {@code aws s3api put-bucket-lifecycle-configuration}
   * takes; with {@code --apply}, sets it on the bucket (keeping the bucket's other rules).
   */
  @Command(name = "lifecycle", mixinStandardHelpOptions = true, description = {
      "Prints the bucket lifecycle rule for s3.retention_days (JSON for",
      "`aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration file://-`);",
      "with --apply, sets it on the bucket, keeping the bucket's other rules.",
      "Takes the same s3 settings as serve: --config FILE, BUCKCACHE_S3_* or the flags below."})
  static final class LifecycleCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "YAML config file")
    Path configFile;

    @Option(names = "--apply", description = "set the rule on the bucket")
    boolean apply;

    @Spec CommandSpec spec;

    static final java.util.List<ConfigLoader.Setting> SETTINGS = java.util.List.of(
        ConfigLoader.S3_BUCKET, ConfigLoader.S3_ENDPOINT, ConfigLoader.S3_REGION,
        ConfigLoader.S3_PREFIX, ConfigLoader.S3_PATH_STYLE, ConfigLoader.S3_CA,
        ConfigLoader.S3_RETENTION);

    static CommandSpec spec() {
      var spec = CommandSpec.forAnnotatedObject(new LifecycleCommand());
      for (var s : SETTINGS) {
        var option = OptionSpec.builder(s.flag()).type(String.class)
            .description(s.help() + " [" + s.key() + "]");
        if (s.isSwitch()) {
          option.arity("0..1").fallbackValue("true");
        } else {
          option.paramLabel(s.paramLabel());
        }
        spec.addOption(option.build());
      }
      return spec;
    }

    @Override
    public Integer call() {
      Map<String, String> flags = new HashMap<>();
      for (var s : SETTINGS) {
        Object value = spec.findOption(s.flag()).getValue();
        if (value != null) {
          flags.put(s.key(), (String) value);
        }
      }
      // Only the s3.* settings count: the image's 0.0.0.0 listeners without auth do not matter
      // to a command that serves nothing.
      S3Settings s3 = new ConfigLoader(System.getenv(), Runtime.getRuntime().maxMemory())
          .loadS3(configFile, flags);
      if (s3 == null) {
        throw new ConfigException("no bucket: give --s3-bucket (or s3.bucket, BUCKCACHE_S3_BUCKET)");
      }
      if (s3.retentionDays() == 0) {
        throw new ConfigException("s3.retention_days is 0 (keep forever): there is no rule to set");
      }
      PrintWriter out = spec.commandLine().getOut();
      out.println(ruleJson(s3.prefix(), s3.retentionDays()));
      if (apply) {
        try (var bucket = new S3ObjectStore(s3, BackendMeter.NONE)) {
          bucket.applyLifecycle(S3ObjectStore.retentionRule(s3.prefix(), s3.retentionDays()));
          spec.commandLine().getErr().println("applied to " + bucket.describe()
              + ": objects expire " + s3.retentionDays() + " days after their last write or "
              + "refresh");
        }
      }
      out.flush();
      return 0;
    }

    static String ruleJson(String prefix, int days) {
      return """
          {
            "Rules": [
              {
                "ID": "buckcache-retention",
                "Filter": {"Prefix": "%s"},
                "Status": "Enabled",
                "Expiration": {"Days": %d},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}
              }
            ]
          }""".formatted(prefix.replace("\\", "\\\\").replace("\"", "\\\""), days);
    }
  }
}
