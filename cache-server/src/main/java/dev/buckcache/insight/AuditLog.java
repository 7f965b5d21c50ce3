package dev.buckcache.insight;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit trail of incident response: one JSON line per purge or revocation, saying who did it,
 * appended to a file (the server's is {@code audit.log} in its data directory) and logged by
 * {@code buckcache.audit}. Never a token.
 */
public final class AuditLog {
  private static final Logger log = LoggerFactory.getLogger("buckcache.audit");
  private final Path file;

  public AuditLog(Path file) {
    this.file = file;
  }

  public Path file() {
    return file;
  }

  /**
   * Writes one line: {@code {"time":…,"action":…,"by":…, …fields}}.
   *
   * @throws IOException if the line could not be appended (the action is then not to be trusted
   *     as audited; callers say so)
   */
  public synchronized void record(String action, String by, Map<String, Object> fields)
      throws IOException {
    var json = new Json().field("time", Instant.now().toString()).field("action", action)
        .field("by", by);
    fields.forEach(json::field);
    var line = json.close() + "\n";
    log.info("{}", line.strip());
    if (file.getParent() != null) {
      Files.createDirectories(file.getParent());
    }
    Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND, StandardOpenOption.WRITE);
  }
}
