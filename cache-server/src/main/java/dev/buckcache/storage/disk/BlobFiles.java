package dev.buckcache.storage.disk;

import dev.buckcache.storage.StorageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.NavigableSet;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.function.LongPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Large incompressible entries, one plain file each, named by the entry's seq, in {@code blobs/}
 * under the store's directory (see DiskTier's design notes). Nothing but DiskTier and DiskWrite
 * touches them, and always under the rules RocksDB data follows: a file exists before its index
 * record and outlives it until eviction passes its seq.
 */
final class BlobFiles {
  private static final Logger log = LoggerFactory.getLogger(BlobFiles.class);

  private final Path dir;
  private final NavigableSet<Long> seqs = new ConcurrentSkipListSet<>();

  private BlobFiles(Path dir) {
    this.dir = dir;
  }

  /** The files under {@code storeDir}; creates the directory unless {@code readOnly}. */
  static BlobFiles open(Path storeDir, boolean readOnly) {
    var files = new BlobFiles(storeDir.resolve("blobs"));
    try {
      if (!readOnly) {
        Files.createDirectories(files.dir);
      }
      if (Files.isDirectory(files.dir)) {
        try (var list = Files.list(files.dir)) {
          list.forEach(p -> {
            var name = p.getFileName().toString();
            if (name.chars().allMatch(Character::isDigit) && !name.isEmpty()) {
              files.seqs.add(Long.parseLong(name));
            }
          });
        }
      }
    } catch (IOException e) {
      throw failure("listing " + files.dir, e);
    }
    return files;
  }

  Path path(long seq) {
    return dir.resolve(Long.toString(seq));
  }

  /** A new file for {@code seq}, open for writing. */
  FileChannel create(long seq) {
    seqs.add(seq);
    try {
      return FileChannel.open(path(seq), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    } catch (IOException e) {
      seqs.remove(seq);
      throw failure("creating " + path(seq), e);
    }
  }

  /** The file of {@code seq} open for reading, or null when it is gone (evicted). */
  FileChannel openRead(long seq) {
    try {
      return FileChannel.open(path(seq), StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw failure("opening " + path(seq), e);
    }
  }

  /** The seqs that have files, in order (a snapshot). */
  java.util.List<Long> seqs() {
    return java.util.List.copyOf(seqs);
  }

  /** The highest seq with a file, or -1. */
  long lastSeq() {
    return seqs.isEmpty() ? -1 : seqs.last();
  }

  boolean has(long seq) {
    return seqs.contains(seq);
  }

  /**
   * Removes the file of {@code seq}, if there is one; an open reader keeps reading it. False when
   * there was none, or it could not be deleted (then it stays counted, and the next pass retries).
   */
  boolean delete(long seq) {
    if (!seqs.remove(seq)) {
      return false;
    }
    try {
      Files.deleteIfExists(path(seq));
      return true;
    } catch (IOException e) {
      seqs.add(seq);
      log.warn("could not delete {}: {}", path(seq), e.getMessage());
      return false;
    }
  }

  /** Deletes the files of every seq up to {@code lastSeq} that {@code keep} does not claim. */
  void deleteThrough(long lastSeq, LongPredicate keep) {
    for (long seq : seqs.headSet(lastSeq, true)) {
      if (!keep.test(seq)) {
        delete(seq);
      }
    }
  }

  /** Deletes every file whose seq {@code live} does not vouch for (left by a crash). */
  int deleteUnless(LongPredicate live) {
    int n = 0;
    for (long seq : seqs) {
      if (!live.test(seq) && delete(seq)) {
        n++;
      }
    }
    return n;
  }

  /** Writes all of {@code bytes} at the channel's position; a full disk is a StoreFull. */
  static void writeFully(FileChannel channel, ByteBuffer bytes, String what) {
    try {
      while (bytes.hasRemaining()) {
        channel.write(bytes);
      }
    } catch (IOException e) {
      throw failure(what, e);
    }
  }

  /** Reads exactly {@code into.remaining()} bytes from {@code position}. */
  static void readFully(FileChannel channel, ByteBuffer into, long position, String what) {
    try {
      long at = position;
      while (into.hasRemaining()) {
        int n = channel.read(into, at);
        if (n < 0) {
          throw new StorageException.Failure(what + ": the file ends at " + at
              + " bytes, before the entry does: the store is damaged", null);
        }
        at += n;
      }
    } catch (IOException e) {
      throw failure(what, e);
    }
  }

  static StorageException failure(String what, IOException e) {
    var message = String.valueOf(e.getMessage());
    if (message.contains("No space left") || message.contains("Disk quota")) {
      return new StorageException.StoreFull("disk full while " + what + ": " + message, e);
    }
    return new StorageException.Failure("storage error while " + what + ": " + message, e);
  }
}
