package dev.buckcache.testing;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Logback appender (see logback-test.xml) that records Netty's leak reports, so tests can fail on
 * them instead of leaving them in a log nobody reads.
 */
public final class LeakRecorder extends AppenderBase<ILoggingEvent> {
  private static final List<String> REPORTS = new CopyOnWriteArrayList<>();

  @Override
  protected void append(ILoggingEvent event) {
    if (event.getFormattedMessage().contains("LEAK")) {
      REPORTS.add(event.getFormattedMessage());
    }
  }

  /** Makes the detector look at collected buffers, then returns and clears what it reported. */
  public static List<String> collect() {
    for (int i = 0; i < 5; i++) {
      System.gc();
      // Leak reports are produced on allocation; allocate a few tracked buffers.
      for (int j = 0; j < 100; j++) {
        io.netty.buffer.PooledByteBufAllocator.DEFAULT.buffer(16).release();
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    var out = List.copyOf(REPORTS);
    REPORTS.clear();
    return out;
  }
}
