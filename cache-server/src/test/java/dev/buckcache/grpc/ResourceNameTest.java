package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ResourceNameTest {
  static final String H = "abababababababababababababababababababababababababababababababab";

  @Test
  void parses_readsAndWrites_withInstanceAndCompression() {
    assertThat(ResourceName.parseRead("blobs/" + H + "/7")).isEqualTo(new ResourceName("", false, H, 7));
    assertThat(ResourceName.parseRead("a/b/compressed-blobs/zstd/" + H + "/7"))
        .isEqualTo(new ResourceName("a/b", true, H, 7));
    assertThat(ResourceName.parseWrite("main/uploads/u-1/blobs/" + H + "/7/extra"))
        .isEqualTo(new ResourceName("main", false, H, 7));
  }

  /** Each once threw an unchecked exception (found by FuzzTest) or must stay a client error. */
  @ParameterizedTest
  @ValueSource(strings = {"deflate/x/compressed-blobs", "compressed-blobs", "blobs", "blobs/",
      "compressed-blobs/zstd", "compressed-blobs/zstd/" + H, "uploads", "uploads/u/compressed-blobs",
      "uploads/u/blobs/" + H, "blobs/" + H + "/-", "blobs/" + H + "/99999999999999999999", ""})
  void malformed_isInvalidArgument(String name) {
    for (boolean write : new boolean[] {false, true}) {
      assertThatThrownBy(() -> {
        if (write) {
          ResourceName.parseWrite(name);
        } else {
          ResourceName.parseRead(name);
        }
      }).isInstanceOf(StatusRuntimeException.class)
          .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }
  }
}
