package dev.buckcache.logging;

import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;

/** Logback's JSON encoder, with credentials removed from each finished object. */
public class RedactingJsonEncoder extends JsonEncoder {
  @Override
  public byte[] encode(ILoggingEvent event) {
    return RedactingTextEncoder.redact(super.encode(event));
  }
}
