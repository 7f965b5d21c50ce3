package dev.buckcache.storage;

import static dev.buckcache.storage.StoreFixture.digest;
import static org.assertj.core.api.Assertions.assertThat;

import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirectoryWalkTest {
  @TempDir Path dir;
  private StoreFixture fx;

  @BeforeEach
  void open() {
    fx = new StoreFixture(dir, 64L << 20);
  }

  @AfterEach
  void close() {
    fx.close();
  }

  private Digest store(Directory directory) {
    var bytes = directory.toByteArray();
    var d = digest(bytes);
    fx.store.put(d, bytes);
    return d;
  }

  private static Directory withChildren(String name, Digest... children) {
    var b = Directory.newBuilder();
    for (int i = 0; i < children.length; i++) {
      b.addDirectories(DirectoryNode.newBuilder().setName(name + i).setDigest(
          build.bazel.remote.execution.v2.Digest.newBuilder().setHash(children[i].hash())
              .setSizeBytes(children[i].size())));
    }
    return b.build();
  }

  @Test
  void from_sharedSubtree_visitedOnce_breadthFirst() {
    var leaf = store(Directory.newBuilder().addFiles(
        build.bazel.remote.execution.v2.FileNode.newBuilder().setName("f")).build());
    var a = store(withChildren("a", leaf));
    var b = store(withChildren("b", leaf));
    var root = store(withChildren("r", a, b));
    var walk = DirectoryWalk.from(fx.store, DigestFunction.SHA256, root, 100, false);
    assertThat(walk.complete()).isTrue();
    assertThat(walk.directories()).hasSize(4);
    assertThat(walk.directories().get(3).getFiles(0).getName()).isEqualTo("f");
  }

  @Test
  void from_missingDirectory_skippedOrStops() {
    var absent = digest("not stored".getBytes(StandardCharsets.UTF_8));
    var root = store(withChildren("r", absent));
    var skipping = DirectoryWalk.from(fx.store, DigestFunction.SHA256, root, 100, true);
    assertThat(skipping.complete()).isTrue();
    assertThat(skipping.directories()).hasSize(1);
    var strict = DirectoryWalk.from(fx.store, DigestFunction.SHA256, root, 100, false);
    assertThat(strict.problem()).isEqualTo("directory " + absent + " is missing");
  }

  @Test
  void from_notADirectoryOrOverTheLimit_saysWhy() {
    var junk = new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff};
    fx.store.put(digest(junk), junk);
    var bad = DirectoryWalk.from(fx.store, DigestFunction.SHA256, digest(junk), 100, true);
    assertThat(bad.problem()).contains("is not a Directory");
    var leaf = store(Directory.getDefaultInstance());
    var root = store(withChildren("r", store(withChildren("m", leaf))));
    var limited = DirectoryWalk.from(fx.store, DigestFunction.SHA256, root, 2, true);
    assertThat(limited.problem()).isEqualTo("the tree has more than 2 directories");
    assertThat(limited.directories()).hasSize(2);
  }
}
