package dev.buckcache.buck2;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Keeps the HTTP/2 frame log lines grpc-netty's client writes (see logback-test.xml). */
public final class FrameRecorder extends AppenderBase<ILoggingEvent> {
  private static final List<String> FRAMES = new CopyOnWriteArrayList<>();

  @Override
  protected void append(ILoggingEvent event) {
    var message = event.getFormattedMessage();
    if (message.contains("PING") || message.contains("GO_AWAY")) {
      FRAMES.add(message);
    }
  }

  static List<String> frames() {
    return List.copyOf(FRAMES);
  }

  static void clear() {
    FRAMES.clear();
  }
}
