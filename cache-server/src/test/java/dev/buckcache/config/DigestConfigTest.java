package dev.buckcache.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.DigestFunction;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DigestConfigTest {
  private final DigestConfig config =
      new DigestConfig(DigestFunction.SHA256, Map.of("buck2", DigestFunction.BLAKE3));

  @Test
  void infer_lengthDecides_64TakesTheInstancesFunction() {
    assertThat(config.infer("", 64)).isEqualTo(DigestFunction.SHA256);
    assertThat(config.infer("buck2", 64)).isEqualTo(DigestFunction.BLAKE3);
    assertThat(config.infer("buck2", 40)).isEqualTo(DigestFunction.SHA1);
    assertThat(config.infer("", 96)).isEqualTo(DigestFunction.SHA384);
    assertThat(config.infer("", 128)).isEqualTo(DigestFunction.SHA512);
    assertThat(config.infer("", 63)).isNull();
  }
}
