package dev.buckcache.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

/** The leak check that guards the HTTP tests is live: a leaked buffer is reported. */
class LeakRecorderTest {
  @Test
  void leakedBuffer_isReported() {
    LeakRecorder.collect();
    leak();
    assertThat(LeakRecorder.collect()).anySatisfy(r -> assertThat(r).contains("LEAK"));
  }

  private static void leak() {
    var buf = PooledByteBufAllocator.DEFAULT.buffer(64);
    buf.writeInt(1);
  }
}
