package dev.buckcache.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.process.S3ProxyServer;
import dev.buckcache.process.ServerProcess;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bazel 4.2.3 and two buckcache nodes, each with its own disk, on one bucket of a real S3 server
 * (s3proxy): a build through node A over HTTP fills the bucket; after {@code bazel clean} the
 * rebuild through node B over gRPC is all remote cache hits, though B's disk started empty.
 */
class SharedStoreBazelTest {
  @TempDir Path dir;

  @Test
  void buildThroughNodeAOverHttp_rebuildThroughNodeBOverGrpc_allHits() throws Exception {
    Clients.require("bazel");
    try (var s3 = S3ProxyServer.start(dir.resolve("s3"))) {
      var flags = s3.nodeFlags("shared").toArray(String[]::new);
      try (var a = ServerProcess.serve(S3ProxyServer.credentials(), dir.resolve("a"), flags);
          var b = ServerProcess.serve(S3ProxyServer.credentials(), dir.resolve("b"), flags)) {
        var ws = new BazelWorkspace(dir.resolve("bazel"));
        try {
          var first = ws.bazel("build", List.of("--remote_cache=" + a.http()));
          ws.bazel("clean", List.of());
          var second = ws.bazel("build", new ArrayList<>(List.of(
              "--remote_cache=grpc://127.0.0.1:" + b.grpcPort())));
          var run = new BazelWorkspace.CleanRebuild(first, second);
          System.out.println("bazel via two nodes on S3: " + run.summary());
          assertThat(BazelWorkspace.executed(first)).as(run.summary()).isGreaterThan(4);
          assertThat(BazelWorkspace.remoteHits(second)).as(run.summary()).isEqualTo(run.actions());
          assertThat(BazelWorkspace.executed(second)).as(run.summary()).isZero();
        } finally {
          ws.shutdown();
        }
        b.stopAndCheck();
        a.stopAndCheck();
      }
    }
  }
}
