package dev.buckcache.cli;

import dev.buckcache.config.ConfigLoader;
import dev.buckcache.server.BuckcacheServer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code buckcache serve}: runs the cache until SIGTERM or SIGINT. */
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

  @Option(names = "--dir", paramLabel = "DIR",
      description = "data directory [storage.dir] (default ./buckcache-data)")
  String dir;

  @Option(names = "--max-size", paramLabel = "SIZE",
      description = "disk budget incl. RocksDB's files [storage.max_size] (default 10GB)")
  String maxSize;

  @Option(names = "--cleanup-threshold", paramLabel = "FRACTION",
      description = "evict down to this fraction of max size [storage.cleanup_threshold] (default 0.8)")
  String cleanupThreshold;

  @Option(names = "--memory-size", paramLabel = "SIZE",
      description = "memory tier for small blobs, 0 = off [storage.memory_size] (default 512MB)")
  String memorySize;

  @Option(names = "--compression", paramLabel = "zstd|none",
      description = "disk encoding [storage.compression] (default zstd)")
  String compression;

  @Option(names = "--zstd-level", paramLabel = "N",
      description = "zstd level 1-19 [storage.zstd_level] (default 1)")
  String zstdLevel;

  @Option(names = "--max-blob-size", paramLabel = "SIZE",
      description = "largest blob accepted [storage.max_blob_size] (default 64GiB)")
  String maxBlobSize;

  @Option(names = "--shutdown-grace", paramLabel = "DURATION",
      description = "time in-flight work gets on SIGTERM [server.shutdown_grace] (default 30s)")
  String shutdownGrace;

  @Override
  public Integer call() throws InterruptedException {
    var loader = new ConfigLoader(System.getenv(), Runtime.getRuntime().maxMemory());
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
    put(flags, ConfigLoader.DIR, dir);
    put(flags, ConfigLoader.MAX_SIZE, maxSize);
    put(flags, ConfigLoader.CLEANUP, cleanupThreshold);
    put(flags, ConfigLoader.MEMORY_SIZE, memorySize);
    put(flags, ConfigLoader.COMPRESSION, compression);
    put(flags, ConfigLoader.ZSTD_LEVEL, zstdLevel);
    put(flags, ConfigLoader.MAX_BLOB_SIZE, maxBlobSize);
    put(flags, ConfigLoader.SHUTDOWN_GRACE, shutdownGrace);
    return flags;
  }

  private static void put(Map<String, String> flags, ConfigLoader.Setting s, String value) {
    if (value != null) {
      flags.put(s.key(), value);
    }
  }
}
