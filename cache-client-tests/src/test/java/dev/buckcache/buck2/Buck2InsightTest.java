package dev.buckcache.buck2;

import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.google.protobuf.ByteString;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.process.ServerProcess;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Buck2's call pattern with its build id in RequestMetadata: the build shows up in
 * {@code /api/invocations} as tool {@code buck2}, with each lookup, hit and miss cause counted,
 * and it survives a restart.
 */
class Buck2InsightTest {
  @TempDir Path dir;

  private static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  private static String invocation(ServerProcess server, String id) throws Exception {
    var response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create(server.http() + "/api/invocations/" + id)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return response.body();
  }

  @Test
  void buck2BuildId_showsUpAsToolBuck2_withEveryMissCause() throws Exception {
    var build = UUID.randomUUID().toString();
    var data = dir.resolve("data");
    try (var server = ServerProcess.serve(data)) {
      var channel = Buck2Client.channel("127.0.0.1", server.grpcPort(), null, build);
      try {
        var cas = ContentAddressableStorageGrpc.newBlockingStub(channel);
        var ac = ActionCacheGrpc.newBlockingStub(channel);
        var output = "buck2 output".getBytes(StandardCharsets.UTF_8);
        cas.batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder().addRequests(
            BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest(output))
                .setData(ByteString.copyFrom(output))).build());
        var complete = digest("action complete".getBytes(StandardCharsets.UTF_8));
        var broken = digest("action whose output is gone".getBytes(StandardCharsets.UTF_8));
        var never = digest("action never stored".getBytes(StandardCharsets.UTF_8));
        ac.updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(complete)
            .setActionResult(ActionResult.newBuilder().addOutputFiles(
                OutputFile.newBuilder().setPath("out").setDigest(digest(output)))).build());
        ac.updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(broken)
            .setActionResult(ActionResult.newBuilder().addOutputFiles(OutputFile.newBuilder()
                .setPath("gone").setDigest(digest("never uploaded".getBytes(StandardCharsets.UTF_8)))))
            .build());
        ac.getActionResult(GetActionResultRequest.newBuilder().setActionDigest(complete).build());
        for (var missing : new Digest[] {broken, never}) {
          try {
            ac.getActionResult(GetActionResultRequest.newBuilder().setActionDigest(missing).build());
            throw new AssertionError("expected a miss for " + missing.getHash());
          } catch (StatusRuntimeException e) {
            assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.NOT_FOUND);
          }
        }
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      var body = invocation(server, build);
      System.out.println("buck2 build: " + body);
      assertThat(body).contains("\"id\":\"" + build + "\"", "\"tool\":\"buck2\"",
          "\"toolVersion\":\"test\"", "\"subject\":\"anonymous\"", "\"acLookups\":3,",
          "\"acHits\":1,", "\"acMisses\":2,", "\"integrityMisses\":1,", "\"uploads\":3,",
          "\"never_stored\":1", "\"outputs_evicted\":1", "\"uploadsRefused\":0");
      var metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create(server.http() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
      assertThat(metrics).contains("buckcache_ac_misses_total{cause=\"outputs_evicted\"} 1.0",
          "buckcache_ac_misses_total{cause=\"never_stored\"} 1.0",
          "buckcache_tool_ac_lookups_total{result=\"hit\",tool=\"buck2\"} 1.0");
      // The status page's "Recent builds" row and hourly chart, as headless Chromium renders them.
      dev.buckcache.clients.Clients.require("chromium");
      var dom = dev.buckcache.clients.Clients.run(dir, java.util.Map.of(), 120, java.util.List.of(
          "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--user-data-dir=" + dir.resolve("profile"), "--dump-dom", server.http() + "/")).output();
      assertThat(dom).contains("<h2>Recent builds</h2>", "id=\"recent-builds\"",
          "data-id=\"" + build + "\"", "<td>buck2 test</td>", "id=\"hourly-hit-rate\"");
      var row = dom.substring(dom.indexOf("data-id=\"" + build + "\""));
      row = row.substring(0, row.indexOf("</tr>"));
      assertThat(row).contains("<td class=\"n\">3</td><td class=\"n\">1</td>"
          + "<td class=\"n\">2</td><td class=\"n bad\">33.3%</td><td class=\"n\">1</td>");
      assertThat(dom).containsPattern("<rect class=\"hour\"[^>]*data-lookups=\"3\" data-hits=\"1\"");
      server.stopAndCheck();
    }
    try (var again = ServerProcess.serve(data)) { // kept across a restart
      assertThat(invocation(again, build)).contains("\"tool\":\"buck2\"", "\"acLookups\":3,");
      again.stopAndCheck();
    }
  }
}
