package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.digest;
import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.OutputDirectory;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.Tree;
import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ActionResultsTest {
  @TempDir Path dir;
  private StoreFixture fx;
  private ActionResults results;
  private final AcKey key = new AcKey("main", DigestFunction.SHA256, "ab".repeat(32));

  @BeforeEach
  void open() {
    fx = new StoreFixture(dir, 64L << 20);
    results = new ActionResults(fx.store, fx.store);
  }

  @AfterEach
  void close() {
    fx.close();
  }

  private static build.bazel.remote.execution.v2.Digest proto(Digest d) {
    return build.bazel.remote.execution.v2.Digest.newBuilder()
        .setHash(d.hash()).setSizeBytes(d.size()).build();
  }

  private Digest store(byte[] content) {
    fx.store.put(digest(content), content);
    return digest(content);
  }

  @Test
  void get_allOutputsPresent_hit_withMetadataPresenceKept() {
    var out = store("object code".getBytes(StandardCharsets.UTF_8));
    var stdout = store("compiler said hi".getBytes(StandardCharsets.UTF_8));
    var result = ActionResult.newBuilder()
        .addOutputFiles(OutputFile.newBuilder().setPath("a.o").setDigest(proto(out)))
        .setStdoutDigest(proto(stdout))
        .setExecutionMetadata(ExecutedActionMetadata.getDefaultInstance())
        .build();
    results.put(key, result);
    var lookup = results.get(key);
    assertThat(lookup.hit()).isTrue();
    assertThat(lookup.result().orElseThrow().hasExecutionMetadata()).isTrue();
    assertThat(lookup.result()).contains(result);
  }

  @Test
  void get_outputFileMissing_missWithReason() {
    var absent = digest("never uploaded".getBytes(StandardCharsets.UTF_8));
    results.put(key, ActionResult.newBuilder()
        .addOutputFiles(OutputFile.newBuilder().setPath("a.o").setDigest(proto(absent)))
        .build());
    var lookup = results.get(key);
    assertThat(lookup.hit()).isFalse();
    assertThat(lookup.missReason()).contains(absent.hash());
  }

  @Test
  void get_treeFileMissing_miss_thenHitOnceUploaded() {
    var fileContent = "inside a dir".getBytes(StandardCharsets.UTF_8);
    var file = digest(fileContent);
    var tree = Tree.newBuilder()
        .setRoot(Directory.newBuilder()
            .addFiles(FileNode.newBuilder().setName("f").setDigest(proto(file))))
        .build();
    var treeDigest = store(tree.toByteArray());
    results.put(key, ActionResult.newBuilder()
        .addOutputDirectories(OutputDirectory.newBuilder().setPath("out").setTreeDigest(proto(treeDigest)))
        .build());
    assertThat(results.get(key).hit()).isFalse();
    store(fileContent);
    assertThat(results.get(key).hit()).isTrue();
  }

  @Test
  void get_treeBlobMissing_miss() {
    var treeDigest = digest("not stored".getBytes(StandardCharsets.UTF_8));
    results.put(key, ActionResult.newBuilder()
        .addOutputDirectories(OutputDirectory.newBuilder().setPath("out").setTreeDigest(proto(treeDigest)))
        .build());
    assertThat(results.get(key).missReason()).contains("tree");
  }

  @Test
  void get_rawEntry_returnedAsStored() {
    var ccacheBlob = "cCrS not a protobuf at all \u0000\u0001".getBytes(StandardCharsets.UTF_8);
    fx.store.put(key, new AcEntry(AcEntry.Kind.RAW, ccacheBlob));
    var lookup = results.get(key);
    assertThat(lookup.hit()).isTrue();
    assertThat(lookup.entry().orElseThrow().value()).isEqualTo(ccacheBlob);
    assertThat(lookup.result()).isEmpty();
  }

  @Test
  void get_emptyActionResult_isAHit() {
    // Buck2's permission probe stores an empty result.
    results.put(key, ActionResult.getDefaultInstance());
    assertThat(results.get(key).hit()).isTrue();
  }

  @Test
  void get_absent_miss() {
    assertThat(results.get(key).missReason()).isEqualTo("no action-cache entry");
  }
}
