package dev.buckcache.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.DigestFunction;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bearer tokens on the HTTP API: 401 without a valid one, 403 beyond its scope or instances. */
class HttpAuthTest {
  @TempDir Path dir;
  private HttpHarness h;
  private final byte[] blob = "object code".getBytes(StandardCharsets.UTF_8);
  private final String sha = DigestFunction.SHA256.hash(blob);

  @BeforeEach
  void open() throws Exception {
    h = new HttpHarness(dir.resolve("store"), 1 << 20, HttpHarness.teamTokens(dir));
  }

  @AfterEach
  void close() {
    h.close();
  }

  private FullHttpResponse request(String method, String path, String token, byte[] body) {
    var auth = token == null ? "" : "Authorization: Bearer " + token + "\n";
    var length = body == null ? "" : "Content-Length: " + body.length + "\n";
    h.send(method + " " + path + " HTTP/1.1\nHost: x\n" + auth + length + "\n", body);
    return h.response();
  }

  @Test
  void noOrBadToken_401WithChallenge_healthzOpen() {
    var r = request("GET", "/cas/" + sha, null, null);
    assertThat(r.status().code()).isEqualTo(401);
    assertThat(r.headers().get(HttpHeaderNames.WWW_AUTHENTICATE)).isEqualTo("Bearer realm=\"buckcache\"");
    var bad = request("GET", "/cas/" + sha, "nope", null);
    assertThat(bad.status().code()).isEqualTo(401);
    assertThat(bad.headers().get(HttpHeaderNames.WWW_AUTHENTICATE)).contains("invalid_token");
    assertThat(HttpHarness.body(bad)).doesNotContain("nope");
    assertThat(request("GET", "/status", null, null).status().code()).isEqualTo(401);
    assertThat(request("GET", "/healthz", null, null).status().code()).isEqualTo(200);
  }

  @Test
  void readToken_readsAndUploadsCas_butNotActionCache() {
    assertThat(request("PUT", "/cas/" + sha, "r-token", blob).status().code()).isEqualTo(200);
    assertThat(request("GET", "/cas/" + sha, "r-token", null).status().code()).isEqualTo(200);
    assertThat(request("PUT", "/ac/" + sha, "w-token", blob).status().code()).isEqualTo(200);
    assertThat(request("GET", "/ac/" + sha, "r-token", null).status().code()).isEqualTo(200);
    // Refused before its body was read: the answer closes the connection.
    var ac = request("PUT", "/ac/" + sha, "r-token", blob);
    assertThat(ac.status().code()).isEqualTo(403);
    assertThat(HttpHarness.body(ac)).contains("scope read").contains("action cache");
    assertThat(ac.headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("close");
  }

  @Test
  void instanceToken_touchesOnlyItsInstance() {
    assertThat(request("PUT", "/main/ac/" + sha, "m-token", blob).status().code()).isEqualTo(200);
    var other = request("GET", "/other/cas/" + sha, "m-token", null);
    assertThat(other.status().code()).isEqualTo(403);
    assertThat(HttpHarness.body(other)).contains("not granted instance 'other'");
    assertThat(request("GET", "/cas/" + sha, "m-token", null).status().code()).isEqualTo(403);
  }
}
