package dev.buckcache.storage.disk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real small filesystem for a test: a tmpfs of a given size, mounted as root and unmounted on
 * close. Outside CI a machine where mounting is not allowed skips the test; under CI it fails.
 */
final class TmpfsMount implements AutoCloseable {
  private final Path path;

  private TmpfsMount(Path path) {
    this.path = path;
  }

  static TmpfsMount mount(Path mountPoint, String size) throws IOException, InterruptedException {
    Files.createDirectories(mountPoint);
    var result = run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mountPoint.toString());
    if (result != null) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError("cannot mount a small tmpfs under CI (needs root): " + result);
      }
      Assumptions.abort("cannot mount a tmpfs here: " + result);
    }
    return new TmpfsMount(mountPoint);
  }

  Path path() {
    return path;
  }

  /** Bytes the filesystem has in use (all files on it). */
  long used() throws IOException {
    var store = Files.getFileStore(path);
    return store.getTotalSpace() - store.getUnallocatedSpace();
  }

  /** tmpfs size syntax: 40m, 2g. */
  static long bytes(String size) {
    var s = size.toLowerCase(Locale.ROOT);
    long n = Long.parseLong(s.substring(0, s.length() - 1));
    return switch (s.charAt(s.length() - 1)) {
      case 'k' -> n << 10;
      case 'm' -> n << 20;
      case 'g' -> n << 30;
      default -> throw new IllegalArgumentException(size);
    };
  }

  /** Null on success, else the command's output. */
  private static String run(String... command) throws IOException, InterruptedException {
    var process = new ProcessBuilder(command).redirectErrorStream(true).start();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      return String.join(" ", command) + ": timed out";
    }
    var out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return process.exitValue() == 0 ? null : out.trim();
  }

  @Override
  public void close() throws IOException {
    try {
      var failed = run("umount", path.toString());
      if (failed != null) {
        run("umount", "-l", path.toString());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while unmounting " + path, e);
    }
  }
}
