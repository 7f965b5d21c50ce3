package dev.buckcache.logging;

import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.nio.charset.StandardCharsets;

/** Logback's pattern encoder, with credentials removed from each finished line. */
public class RedactingTextEncoder extends PatternLayoutEncoder {
  @Override
  public byte[] encode(ILoggingEvent event) {
    return redact(super.encode(event));
  }

  // Redactor returns the very same String when nothing changed: keep the original bytes then.
  @SuppressWarnings("ReferenceEquality")
  static byte[] redact(byte[] line) {
    var text = new String(line, StandardCharsets.UTF_8);
    var clean = Redactor.redact(text);
    return clean == text ? line : clean.getBytes(StandardCharsets.UTF_8);
  }
}
