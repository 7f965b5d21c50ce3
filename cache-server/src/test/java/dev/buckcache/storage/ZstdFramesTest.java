package dev.buckcache.storage;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.luben.zstd.Zstd;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ZstdFramesTest {
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 5, 128 * 1024 - 1, 128 * 1024, 128 * 1024 + 1, 1 << 20})
  void rawFrame_decodesToItsInput_aloneAndAfterACompressedFrame(int size) {
    var raw = new byte[size];
    new Random(size).nextBytes(raw);
    assertThat(Zstd.decompress(ZstdFrames.rawFrame(raw), size)).isEqualTo(raw);
    var first = "compressed frame first ".repeat(100).getBytes(StandardCharsets.UTF_8);
    var stream = new java.io.ByteArrayOutputStream();
    stream.writeBytes(Zstd.compress(first));
    stream.writeBytes(ZstdFrames.rawFrame(raw));
    var both = Zstd.decompress(stream.toByteArray(), first.length + size);
    assertThat(java.util.Arrays.copyOfRange(both, first.length, both.length)).isEqualTo(raw);
  }
}
