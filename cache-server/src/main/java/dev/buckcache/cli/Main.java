package dev.buckcache.cli;

import dev.buckcache.config.ConfigException;
import dev.buckcache.storage.StorageException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code buckcache} command. */
@Command(
    name = "buckcache",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Self-hosted remote build cache for Buck2, Bazel, Pants, ccache, Gradle, Turborepo and Nx.",
    subcommands = {})
public final class Main implements Runnable {
  static final int EXIT_CONFIG = 2;
  static final int EXIT_FAILURE = 1;

  public static void main(String[] args) {
    dev.buckcache.logging.JulBridge.install(); // before grpc-java logs anything
    System.exit(run(args));
  }

  static int run(String... args) {
    var cli = new CommandLine(new Main()).addSubcommand(ServeCommand.spec())
        .addSubcommand(new KeygenCommand()).addSubcommand(new TokenCommand())
        .addSubcommand(new BuckconfigCommand()).addSubcommand(new ClientConfigCommand())
        .addSubcommand(new HealthcheckCommand()).addSubcommand(new PurgeCommand())
        .addSubcommand(new VerifyCommand()).addSubcommand(S3Command.spec());
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      if (e instanceof ConfigException) {
        commandLine.getErr().println("buckcache: " + e.getMessage());
        return EXIT_CONFIG;
      }
      if (e instanceof StorageException) {
        commandLine.getErr().println("buckcache: " + e.getMessage());
        return EXIT_FAILURE;
      }
      throw e;
    });
    return cli.execute(args);
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      var v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"buckcache " + (v == null ? "dev" : v)};
    }
  }
}
