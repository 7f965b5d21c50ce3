package dev.buckcache.logging;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class RedactorTest {
  static final String JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjaSJ9.MEUCIQDx-_sig";

  @Test
  void redact_nettyHeaderDump_removesBearerToken() {
    var line = "HEADERS: streamId=3 headers=GrpcHttp2RequestHeaders[:path: /x, user-agent: grpc-java-netty/1.85.1, "
        + "authorization: Bearer s3cret-token, grpc-accept-encoding: gzip]";
    assertThat(Redactor.redact(line)).doesNotContain("s3cret-token")
        .contains("authorization: [redacted], grpc-accept-encoding");
  }

  @Test
  void redact_jwtAnywhere_isRemoved() {
    assertThat(Redactor.redact("token " + JWT + " refused")).isEqualTo("token [redacted] refused");
  }

  @Test
  void redact_jsonEscapedHeader_isRemoved() {
    var json = "{\"message\":\"headers {\\\"authorization\\\":\\\"plain-secret\\\"} and Bearer abc.def\"}";
    assertThat(Redactor.redact(json)).doesNotContain("plain-secret").doesNotContain("abc.def");
  }

  @Test
  void redact_ordinaryLine_isUnchanged() {
    var line = "grpc Write cas 09d5 OK in=5243052 out=5 ms=375.6 sub=ci instance=main dev.buckcache.grpc.CasService";
    assertThat(Redactor.redact(line)).isSameAs(line);
  }

  @Test
  void clientReset_streamClosedOrConnectionReset_isRecognised() {
    var closed = Http2Exception.streamError(3, Http2Error.STREAM_CLOSED, "Stream closed before write could take place");
    assertThat(JulBridge.clientReset(closed)).contains("Stream closed before write");
    assertThat(JulBridge.clientReset(new IOException("Connection reset by peer"))).isNotNull();
    assertThat(JulBridge.clientReset(new IllegalStateException("bug"))).isNull();
    assertThat(JulBridge.clientReset(null)).isNull();
  }
}
