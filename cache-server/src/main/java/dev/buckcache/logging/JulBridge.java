package dev.buckcache.logging;

import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.Locale;
import java.util.logging.LogRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Sends java.util.logging (grpc-java's logger) into SLF4J, so its lines share our format and
 * redaction. A client that resets a stream or a connection (Pants cancels lookups its local run
 * won; a laptop sleeps) is normal operation, not a 40-line stack trace: such records become one
 * DEBUG line on {@code dev.buckcache.logging.ClientResets}. Logback's LevelChangePropagator
 * (logback.xml) keeps JUL's levels in step, so disabled levels cost nothing.
 */
public final class JulBridge extends SLF4JBridgeHandler {
  private static final Logger resets = LoggerFactory.getLogger("dev.buckcache.logging.ClientResets");

  /** Replaces JUL's console handler with this bridge; the process entry point calls it once. */
  public static void install() {
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    java.util.logging.Logger.getLogger("").addHandler(new JulBridge());
  }

  @Override
  public void publish(LogRecord record) {
    var reset = record == null ? null : clientReset(record.getThrown());
    if (reset == null) {
      super.publish(record);
    } else if (resets.isDebugEnabled()) {
      resets.debug("client reset ({}): {}", record.getLoggerName(), reset);
    }
  }

  /** What the client did, if the throwable only says a client went away; else null. */
  static String clientReset(Throwable thrown) {
    for (var t = thrown; t != null; t = t.getCause()) {
      if (t instanceof Http2Exception.StreamException s
          && (s.error() == Http2Error.STREAM_CLOSED || s.error() == Http2Error.CANCEL)) {
        return "stream " + s.streamId() + ": " + s.getMessage();
      }
      if (t instanceof ClosedChannelException) {
        return "connection closed";
      }
      if (t instanceof IOException && t.getMessage() != null) {
        var m = t.getMessage().toLowerCase(Locale.ROOT);
        if (m.contains("connection reset") || m.contains("broken pipe")) {
          return t.getMessage();
        }
      }
    }
    return null;
  }
}
