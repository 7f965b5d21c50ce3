package dev.buckcache.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.digest.DigestFunction;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /api/purge} and {@code /api/invocations} over the real HTTP pipeline with static tokens,
 * from a non-loopback peer (so the {@code /metrics} rule asks for a token).
 */
class ApiHttpTest {
  @TempDir Path dir;
  private HttpHarness h;

  @BeforeEach
  void open() throws Exception {
    var tokens = dir.resolve("tokens");
    Files.write(tokens, java.util.List.of("a-token oncall admin", "w-token ci write",
        "x-token other write", "s-token scoped admin main"));
    h = new HttpHarness(dir.resolve("store"), 1 << 20,
        dev.buckcache.auth.StaticTokens.load(tokens, null, false));
  }

  @AfterEach
  void close() {
    h.close();
  }

  private FullHttpResponse request(String method, String path, String token, byte[] body) {
    var auth = token == null ? "" : "Authorization: Bearer " + token + "\n";
    var length = body == null ? "Content-Length: 0\n" : "Content-Length: " + body.length + "\n";
    h.send(method + " " + path + " HTTP/1.1\nHost: x\n" + auth + length + "\n", body);
    var r = h.response();
    if ("close".equals(r.headers().get(HttpHeaderNames.CONNECTION))) {
      h.reconnect();
    }
    return r;
  }

  private String put(String token, String text) {
    var value = text.getBytes(StandardCharsets.UTF_8);
    var key = DigestFunction.SHA256.hash(("action " + text).getBytes(StandardCharsets.UTF_8));
    assertThat(request("PUT", "/ac/" + key, token, value).status().code()).isEqualTo(200);
    return key;
  }

  @Test
  void purge_adminOnly_removesOnlyThatWritersEntries_andIsAudited() throws Exception {
    var ci1 = put("w-token", "ci one");
    var ci2 = put("w-token", "ci two");
    var other = put("x-token", "other one");

    assertThat(request("POST", "/api/purge?written_by=ci", null, null).status().code()).isEqualTo(401);
    var writer = request("POST", "/api/purge?written_by=ci", "w-token", null);
    assertThat(writer.status().code()).isEqualTo(403);
    assertThat(HttpHarness.body(writer)).contains("may not purge");
    assertThat(request("POST", "/api/purge?written_by=ci", "s-token", null).status().code())
        .as("an admin for one instance only").isEqualTo(403);
    assertThat(request("GET", "/api/purge?written_by=ci", "a-token", null).status().code()).isEqualTo(405);
    assertThat(request("POST", "/api/purge", "a-token", null).status().code()).isEqualTo(400);
    var badSince = request("POST", "/api/purge?written_by=ci&since=yesterday", "a-token", null);
    assertThat(badSince.status().code()).isEqualTo(400);
    assertThat(HttpHarness.body(badSince)).contains("since must be");
    assertThat(request("POST", "/api/purge?written_by=ci&dry_run=maybe", "a-token", null)
        .status().code()).isEqualTo(400);

    var dry = request("POST", "/api/purge?written_by=ci&dry_run=true", "a-token", null);
    assertThat(HttpHarness.body(dry)).contains("\"purged\":2,", "\"dryRun\":true");
    assertThat(request("GET", "/ac/" + ci1, "w-token", null).status().code()).isEqualTo(200);
    assertThat(Files.exists(dir.resolve("store/audit.log"))).as("a dry run changes nothing").isFalse();

    var purge = request("POST", "/api/purge?written_by=ci&since=1h", "a-token", null);
    assertThat(purge.status().code()).isEqualTo(200);
    assertThat(HttpHarness.body(purge)).contains("\"purged\":2,", "\"dryRun\":false", "\"writtenBy\":\"ci\"");
    assertThat(request("GET", "/ac/" + ci1, "w-token", null).status().code()).isEqualTo(404);
    assertThat(request("GET", "/ac/" + ci2, "w-token", null).status().code()).isEqualTo(404);
    assertThat(request("GET", "/ac/" + other, "w-token", null).status().code()).isEqualTo(200);
    var audit = Files.readString(dir.resolve("store/audit.log"));
    assertThat(audit.lines()).hasSize(1);
    assertThat(audit).contains("\"action\":\"purge\"", "\"by\":\"oncall\"", "\"writtenBy\":\"ci\"",
        "\"purged\":2").doesNotContain("a-token");
  }

  @Test
  void invocations_needATokenOffLoopback_andSayWhenNoneAreKept() {
    assertThat(request("GET", "/api/invocations", null, null).status().code()).isEqualTo(401);
    var none = request("GET", "/api/invocations", "w-token", null);
    assertThat(none.status().code()).isEqualTo(404); // this harness keeps no build statistics
    assertThat(HttpHarness.body(none)).contains("keeps no build statistics");
    assertThat(request("GET", "/api/elsewhere", "w-token", null).status().code()).isEqualTo(404);
  }
}
