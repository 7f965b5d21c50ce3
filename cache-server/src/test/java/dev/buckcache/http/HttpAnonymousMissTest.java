package dev.buckcache.http;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.ActionResult;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.buckcache.auth.CallerResolver;
import dev.buckcache.auth.TestTokens;
import dev.buckcache.config.AuthConfig.Anonymous;
import dev.buckcache.digest.DigestFunction;
import io.netty.handler.codec.http.FullHttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * auth.anonymous miss over HTTP, real store: a caller with no, an expired, a forged or a revoked
 * token gets 404 for what is stored and 403 for uploads, and nothing it sends is stored.
 */
class HttpAnonymousMissTest {
  @TempDir Path dir;
  private HttpHarness h;
  private TestTokens tokens;
  private final List<String> counted = new ArrayList<>();
  private final byte[] blob = "object code".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  private final String sha = DigestFunction.SHA256.hash(blob);
  private final byte[] other = "never stored".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  private final String otherSha = DigestFunction.SHA256.hash(other);
  private final byte[] result = ActionResult.newBuilder().setExitCode(0).build().toByteArray();

  @BeforeEach
  void open() throws Exception {
    tokens = new TestTokens(dir);
    var callers = new CallerResolver(tokens.authenticator, Anonymous.MISS, peer -> null,
        (protocol, reason) -> counted.add(protocol + " " + reason), Ticker.systemTicker(), line -> {});
    h = new HttpHarness(dir.resolve("store"), 1 << 20, callers);
    assertThat(request("PUT", "/cas/" + sha, tokens.write, blob).status().code()).isEqualTo(200);
    assertThat(request("PUT", "/ac/" + sha, tokens.write, result).status().code()).isEqualTo(200);
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

  private int headStatus(String path, String token) {
    var auth = token == null ? "" : "Authorization: Bearer " + token + "\n";
    h.send("HEAD " + path + " HTTP/1.1\nHost: x\n" + auth + "\n");
    var raw = h.rawUntil("\r\n\r\n");
    h.reconnect();
    return Integer.parseInt(raw.substring(9, 12));
  }

  @Test
  void unusableTokens_storedEntriesAre404_uploads403_nothingStored() {
    for (var entry : tokens.unusable().entrySet()) {
      var token = entry.getValue()[0];
      var expected = entry.getValue()[1];
      var cas = request("GET", "/cas/" + sha, token, null);
      assertThat(cas.status().code()).as(entry.getKey()).isEqualTo(404);
      assertThat(HttpHarness.body(cas)).as(entry.getKey()).startsWith(expected)
          .contains("(served as an anonymous cache miss)");
      assertThat(HttpHarness.bytes(cas)).isNotEqualTo(blob);
      assertThat(request("GET", "/ac/" + sha, token, null).status().code()).isEqualTo(404);
      assertThat(request("GET", "/main/ac/" + sha, token, null).status().code()).isEqualTo(404);
      assertThat(headStatus("/cas/" + sha, token)).as(entry.getKey()).isEqualTo(404);
      var put = request("PUT", "/cas/" + otherSha, token, other);
      assertThat(put.status().code()).as(entry.getKey()).isEqualTo(403);
      assertThat(HttpHarness.body(put)).startsWith(expected);
      h.reconnect(); // a refused upload's body was not read: the server closed the connection
      assertThat(request("PUT", "/ac/" + otherSha, token, result).status().code()).isEqualTo(403);
      h.reconnect();
      // /status, /metrics and / keep their own rules: a miss caller is not authenticated there.
      assertThat(request("GET", "/status", token, null).status().code()).isEqualTo(401);
      assertThat(request("GET", "/metrics", token, null).status().code()).isEqualTo(401);
      assertThat(request("GET", "/", token, null).status().code()).isEqualTo(401);
      if (token != null) {
        assertThat(HttpHarness.body(cas)).doesNotContain(token);
      }
    }
    // The write token still sees both, and the refused uploads stored nothing.
    assertThat(HttpHarness.bytes(request("GET", "/cas/" + sha, tokens.write, null))).isEqualTo(blob);
    assertThat(request("GET", "/ac/" + sha, tokens.write, null).status().code()).isEqualTo(200);
    assertThat(request("GET", "/cas/" + otherSha, tokens.write, null).status().code()).isEqualTo(404);
    assertThat(request("GET", "/ac/" + otherSha, tokens.write, null).status().code()).isEqualTo(404);
    assertThat(counted).contains("http MISSING", "http EXPIRED", "http BAD_SIGNATURE",
        "http REVOKED", "http UNKNOWN_KEY", "http WRONG_AUDIENCE", "http MALFORMED");
  }

  @Test
  void readTokenStillReads_andCannotUpdateTheActionCache() {
    assertThat(HttpHarness.bytes(request("GET", "/cas/" + sha, tokens.read, null))).isEqualTo(blob);
    var ac = request("PUT", "/ac/" + otherSha, tokens.read, result);
    assertThat(ac.status().code()).isEqualTo(403);
    assertThat(HttpHarness.body(ac)).contains("scope read");
    assertThat(counted).isEmpty();
  }
}
