package dev.buckcache.auth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;

/**
 * Revoked token ids and subjects, from a file of lines {@code jti ID} or {@code sub SUBJECT}
 * (what {@code buckcache token revoke} appends). Reloaded when the file changes, looked at no
 * more than once a second: revocation takes effect without a restart.
 */
final class Revocations {
  private record Snapshot(Set<String> ids, Set<String> subjects, long modified, Instant checked) {}

  private final Path file;
  private final Clock clock;
  private volatile Snapshot snapshot;

  Revocations(Path file, Clock clock) {
    this.file = file;
    this.clock = clock;
    this.snapshot = new Snapshot(Set.of(), Set.of(), Long.MIN_VALUE, Instant.MIN);
    refresh();
  }

  boolean revoked(String jti, String subject) {
    if (file == null) {
      return false;
    }
    if (clock.instant().isAfter(snapshot.checked().plusSeconds(1))) {
      refresh();
    }
    var s = snapshot;
    return (jti != null && s.ids().contains(jti)) || s.subjects().contains(subject);
  }

  private synchronized void refresh() {
    if (file == null) {
      return;
    }
    var now = clock.instant();
    try {
      long modified = Files.exists(file) ? Files.getLastModifiedTime(file).toMillis() ^ Files.size(file) : 0;
      if (modified == snapshot.modified()) {
        snapshot = new Snapshot(snapshot.ids(), snapshot.subjects(), modified, now);
        return;
      }
      var ids = new HashSet<String>();
      var subjects = new HashSet<String>();
      if (Files.exists(file)) {
        for (var line : Files.readAllLines(file)) {
          var parts = line.trim().split("\\s+", 2);
          if (parts.length == 2 && parts[0].equals("jti")) {
            ids.add(parts[1].trim());
          } else if (parts.length == 2 && parts[0].equals("sub")) {
            subjects.add(parts[1].trim());
          }
        }
      }
      snapshot = new Snapshot(Set.copyOf(ids), Set.copyOf(subjects), modified, now);
    } catch (IOException e) {
      // Keep the last good list; a half-written file must not un-revoke anything.
      snapshot = new Snapshot(snapshot.ids(), snapshot.subjects(), snapshot.modified(), now);
    }
  }
}
