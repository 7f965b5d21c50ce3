package dev.buckcache.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gradle's, Turborepo's and Nx's cache protocols over the real HTTP pipeline and store, with
 * static tokens: what each client is answered, per scope and instance, and that the three never
 * see each other's entries or bazel-remote's.
 */
class ToolProtocolsTest {
  @TempDir Path dir;
  private HttpHarness h;
  private final byte[] artifact = "tar.zst of build outputs".getBytes(StandardCharsets.UTF_8);

  @BeforeEach
  void open() throws Exception {
    h = new HttpHarness(dir.resolve("store"), 1 << 20, HttpHarness.teamTokens(dir));
  }

  @AfterEach
  void close() {
    h.close();
  }

  private static String basic(String token) {
    return "Basic " + Base64.getEncoder().encodeToString(("gradle:" + token).getBytes(StandardCharsets.UTF_8));
  }

  private FullHttpResponse request(String method, String path, String authorization, byte[] body,
      String... headers) {
    var auth = authorization == null ? "" : "Authorization: " + authorization + "\n";
    var length = body == null ? "" : "Content-Length: " + body.length + "\n";
    var extra = new StringBuilder();
    for (var header : headers) {
      extra.append(header).append('\n');
    }
    h.send(method + " " + path + " HTTP/1.1\nHost: x\n" + auth + length + extra + "\n", body);
    var r = h.response();
    if ("close".equals(r.headers().get(HttpHeaderNames.CONNECTION))) {
      h.reconnect();
    }
    return r;
  }

  @Test
  void gradle_basicAuthPutThenGet_missIs404_readTokenRefused() {
    var key = "c04ae543a53645f629acdaad8b98071a";
    assertThat(request("GET", "/gradle/" + key, basic("r-token"), null).status().code()).isEqualTo(404);
    var put = request("PUT", "/gradle/" + key, basic("w-token"), artifact,
        "Content-Type: application/vnd.gradle.build-cache-artifact.v1");
    assertThat(put.status().code()).isEqualTo(200);
    var get = request("GET", "/gradle/" + key, basic("r-token"), null);
    assertThat(get.status().code()).isEqualTo(200);
    assertThat(HttpHarness.bytes(get)).isEqualTo(artifact);
    assertThat(get.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("application/octet-stream");
    var refused = request("PUT", "/gradle/" + key, basic("r-token"), artifact);
    assertThat(refused.status().code()).isEqualTo(403);
    assertThat(HttpHarness.body(refused)).contains("scope read");
    // Bearer works too, and an instance prefix scopes the entry.
    assertThat(request("PUT", "/main/gradle/" + key, "Bearer m-token", "other".getBytes(StandardCharsets.UTF_8))
        .status().code()).isEqualTo(200);
    assertThat(HttpHarness.body(request("GET", "/main/gradle/" + key, "Bearer m-token", null))).isEqualTo("other");
    assertThat(HttpHarness.bytes(request("GET", "/gradle/" + key, basic("w-token"), null))).isEqualTo(artifact);
  }

  @Test
  void gradle_noCredentials_401WithBasicChallenge_badKey400_otherMethods405() {
    var r = request("GET", "/gradle/abc", null, null);
    assertThat(r.status().code()).isEqualTo(401);
    assertThat(r.headers().get(HttpHeaderNames.WWW_AUTHENTICATE)).isEqualTo("Basic realm=\"buckcache\"");
    assertThat(request("GET", "/gradle/abc", basic("wrong"), null).status().code()).isEqualTo(401);
    var bad = request("GET", "/gradle/a%2Fb", basic("r-token"), null);
    assertThat(bad.status().code()).isEqualTo(400);
    assertThat(HttpHarness.body(bad)).contains("malformed gradle cache key");
    assertThat(request("GET", "/gradle/" + "k".repeat(129), basic("r-token"), null).status().code()).isEqualTo(400);
    var delete = request("DELETE", "/gradle/abc", basic("w-token"), null);
    assertThat(delete.status().code()).isEqualTo(405);
    assertThat(delete.headers().get(HttpHeaderNames.ALLOW)).isEqualTo("GET, HEAD, PUT");
  }

  @Test
  void gradle_expectContinue_thenStored_overLimit413BeforeTheBody() {
    h.send("PUT /gradle/k1 HTTP/1.1\nHost: x\nAuthorization: " + basic("w-token")
        + "\nContent-Length: " + artifact.length + "\nExpect: 100-continue\n\n");
    assertThat(h.rawUntil("100 Continue")).contains("HTTP/1.1 100 Continue");
    h.reconnect();
    h.send("PUT /gradle/k2 HTTP/1.1\nHost: x\nAuthorization: " + basic("w-token")
        + "\nContent-Length: " + artifact.length + "\nExpect: 100-continue\n\n", artifact);
    var responses = h.responses(2);
    assertThat(responses.get(0).status().code()).isEqualTo(100);
    assertThat(responses.get(1).status().code()).isEqualTo(200);
    h.send("PUT /gradle/k3 HTTP/1.1\nHost: x\nAuthorization: " + basic("w-token")
        + "\nContent-Length: " + (1 << 20) + "\nExpect: 100-continue\n\n");
    var tooBig = h.response();
    assertThat(tooBig.status().code()).isEqualTo(413);
    assertThat(HttpHarness.body(tooBig)).contains("gradle artifacts");
  }

  @Test
  void turbo_putWithDurationAndTag_getReturnsBoth_teamIsTheInstance() {
    var path = "/v8/artifacts/76b3615b36267c5a?slug=main";
    var put = request("PUT", path, "Bearer m-token", artifact, "x-artifact-duration: 202",
        "x-artifact-tag: rwMw4CTlgKXd7Il5aX6CQTRFYLsspQ57lMeE35E+jE4=",
        "Content-Type: application/octet-stream");
    assertThat(put.status().code()).isEqualTo(202);
    assertThat(HttpHarness.body(put)).isEqualTo("{\"urls\":[\"main/76b3615b36267c5a\"]}");
    var get = request("GET", path, "Bearer m-token", null);
    assertThat(get.status().code()).isEqualTo(200);
    assertThat(HttpHarness.bytes(get)).isEqualTo(artifact);
    assertThat(get.headers().get("x-artifact-duration")).isEqualTo("202");
    assertThat(get.headers().get("x-artifact-tag")).isEqualTo("rwMw4CTlgKXd7Il5aX6CQTRFYLsspQ57lMeE35E+jE4=");
    // teamId works like slug; another team has its own entries.
    assertThat(request("GET", "/v8/artifacts/76b3615b36267c5a?teamId=main", "Bearer w-token", null)
        .status().code()).isEqualTo(200);
    assertThat(request("GET", "/v8/artifacts/76b3615b36267c5a?slug=other", "Bearer w-token", null)
        .status().code()).isEqualTo(404);
    h.reconnect(); // HEAD's answer is read raw: a decoder would wait for the body it announces
    h.send("HEAD " + path + " HTTP/1.1\nHost: x\nAuthorization: Bearer r-token\n\n");
    var head = h.rawUntil("x-artifact-duration");
    assertThat(head).startsWith("HTTP/1.1 200 OK").contains("content-length: " + artifact.length)
        .endsWith("\r\n\r\n");
  }

  @Test
  void turbo_refusalsAreJsonErrors_statusAndEvents() {
    var refused = request("PUT", "/v8/artifacts/aaaa?slug=main", "Bearer r-token", artifact);
    assertThat(refused.status().code()).isEqualTo(403);
    assertThat(refused.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("application/json");
    assertThat(HttpHarness.body(refused)).startsWith("{\"error\":{\"code\":\"forbidden\",\"message\":\"");
    var otherTeam = request("GET", "/v8/artifacts/aaaa?slug=other", "Bearer m-token", null);
    assertThat(otherTeam.status().code()).isEqualTo(403);
    assertThat(HttpHarness.body(otherTeam)).contains("not granted instance 'other'");
    var unauthenticated = request("GET", "/v8/artifacts/status?slug=main", "Bearer nope", null);
    assertThat(unauthenticated.status().code()).isEqualTo(401);
    assertThat(HttpHarness.body(unauthenticated)).startsWith("{\"error\":{\"code\":\"unauthorized\"");
    var status = request("GET", "/v8/artifacts/status?slug=main", "Bearer r-token", null);
    assertThat(HttpHarness.body(status)).isEqualTo("{\"status\":\"enabled\"}");
    var events = "[{\"sessionId\":\"s\",\"source\":\"REMOTE\",\"event\":\"HIT\",\"hash\":\"aaaa\",\"duration\":0}]";
    var posted = request("POST", "/v8/artifacts/events?slug=main", "Bearer r-token",
        events.getBytes(StandardCharsets.UTF_8), "Content-Type: application/json");
    assertThat(posted.status().code()).isEqualTo(200);
    assertThat(posted.headers().get(HttpHeaderNames.CONNECTION)).isNull(); // the body was read
    assertThat(request("GET", "/v8/artifacts/aaaa?slug=bad%20team", "Bearer w-token", null)
        .status().code()).isEqualTo(400);
    var badDuration = request("PUT", "/v8/artifacts/aaaa?slug=main", "Bearer m-token", artifact,
        "x-artifact-duration: soon");
    assertThat(badDuration.status().code()).isEqualTo(400);
    assertThat(HttpHarness.body(badDuration)).contains("x-artifact-duration");
  }

  @Test
  void turbo_pathPrefixAndTeamMakeTheInstance_teamIdBeforeSlug_malformedIsJson() {
    assertThat(request("PUT", "/main/v8/artifacts/abcd?slug=web", "Bearer w-token", artifact)
        .status().code()).isEqualTo(202);
    assertThat(request("GET", "/v8/artifacts/abcd?slug=web", "Bearer w-token", null).status().code())
        .isEqualTo(404);
    assertThat(HttpHarness.bytes(request("GET", "/main/v8/artifacts/abcd?slug=web", "Bearer w-token", null)))
        .isEqualTo(artifact);
    // teamId wins over slug; a token granted 'main' is refused 'main/web'.
    assertThat(request("PUT", "/v8/artifacts/abcd?slug=other&teamId=main", "Bearer m-token", artifact)
        .status().code()).isEqualTo(202);
    assertThat(request("GET", "/main/v8/artifacts/abcd?slug=web", "Bearer m-token", null).status().code())
        .isEqualTo(403);
    var malformed = request("GET", "/v8/artifacts/a%20b?slug=main", "Bearer m-token", null);
    assertThat(malformed.status().code()).isEqualTo(400);
    assertThat(HttpHarness.body(malformed)).startsWith("{\"error\":{\"code\":\"bad_request\"");
    assertThat(request("GET", "/v8/artifacts/abcd?slug=a..b", "Bearer w-token", null).status().code())
        .isEqualTo(400);
  }

  @Test
  void nx_putOnce_secondPut409_readOnly403_badToken401() {
    var path = "/v1/cache/13457894561234567890";
    assertThat(request("GET", path, "Bearer r-token", null).status().code()).isEqualTo(404);
    assertThat(request("PUT", path, "Bearer w-token", artifact).status().code()).isEqualTo(200);
    var again = request("PUT", path, "Bearer w-token", "poisoned".getBytes(StandardCharsets.UTF_8));
    assertThat(again.status().code()).isEqualTo(409);
    assertThat(HttpHarness.bytes(request("GET", path, "Bearer r-token", null))).isEqualTo(artifact);
    assertThat(request("PUT", "/v1/cache/1", "Bearer r-token", artifact).status().code()).isEqualTo(403);
    assertThat(request("GET", path, "Bearer forged", null).status().code()).isEqualTo(401);
    // Over the limit: 403, which Nx takes as "not stored" (a 413 fails its whole run).
    h.send("PUT /v1/cache/2 HTTP/1.1\nHost: x\nAuthorization: Bearer w-token\nContent-Length: "
        + (1 << 20) + "\n\n");
    var tooBig = h.response();
    assertThat(tooBig.status().code()).isEqualTo(403);
    assertThat(HttpHarness.body(tooBig)).contains("nx artifacts").contains("over");
  }

  @Test
  void theToolsAndTheActionCache_neverShareAnEntry() {
    var key = "0123456789abcdef0123456789abcdef";
    assertThat(request("PUT", "/gradle/" + key, "Bearer w-token", artifact).status().code()).isEqualTo(200);
    assertThat(request("GET", "/v1/cache/" + key, "Bearer w-token", null).status().code()).isEqualTo(404);
    assertThat(request("GET", "/v8/artifacts/" + key, "Bearer w-token", null).status().code()).isEqualTo(404);
    assertThat(request("GET", "/gradle/" + key, "Bearer w-token", null).status().code()).isEqualTo(200);
    // An /ac/ value under the tool entry's own key is not a tool artifact: a miss, not its bytes.
    var ac = ToolArtifacts.key(ToolPath.Tool.NX, "", "n1");
    assertThat(request("PUT", "/ac/" + ac.hash(), "Bearer w-token", artifact).status().code()).isEqualTo(200);
    assertThat(request("GET", "/v1/cache/n1", "Bearer w-token", null).status().code()).isEqualTo(404);
  }
}
