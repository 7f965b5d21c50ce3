package dev.buckcache.arch;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The package boundaries DESIGN.md draws, checked on the sources: storage knows no transport, and
 * the front ends know the store only through its interfaces (so tiers can be composed behind
 * them without touching a protocol).
 */
class LayeringTest {
  private static final Path SOURCES = Path.of("src/main/java/dev/buckcache");

  private static List<String> offenders(String pkg, Pattern forbidden) {
    try (Stream<Path> files = Files.walk(SOURCES.resolve(pkg))) {
      return files.filter(f -> f.toString().endsWith(".java"))
          .filter(f -> forbidden.matcher(read(f)).find())
          .map(f -> SOURCES.relativize(f).toString())
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void storage_importsNoTransport() {
    assertThat(offenders("storage", Pattern.compile("\\bio\\.(netty|grpc)\\."))).isEmpty();
  }

  @Test
  void frontEnds_useTheStoreInterfacesOnly() {
    var concrete = Pattern.compile("\\b(TieredStore|DiskTier|MemoryTier)\\b");
    assertThat(offenders("http", concrete)).isEmpty();
    assertThat(offenders("grpc", concrete)).isEmpty();
    var shared = Pattern.compile("\\b(SharedTier|S3ObjectStore|ObjectStore)\\b");
    assertThat(offenders("http", shared)).isEmpty();
    assertThat(offenders("grpc", shared)).isEmpty();
  }

  /** The AWS SDK stays behind ObjectStore: one implementation, one CLI command use it. */
  @Test
  void awsSdk_onlyBehindTheObjectStore() {
    var sdk = Pattern.compile("\\bsoftware\\.amazon\\.awssdk\\.");
    assertThat(offenders("", sdk)).allMatch(f -> f.equals("storage/shared/S3ObjectStore.java")
        || f.equals("cli/S3Command.java"));
  }
}
