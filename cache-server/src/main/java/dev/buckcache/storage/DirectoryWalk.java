package dev.buckcache.storage;

import build.bazel.remote.execution.v2.Directory;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * Walks a tree of REAPI Directory messages in the CAS, breadth first from a root, visiting each
 * directory once however often it is shared. The one walker behind GetTree (which leaves out
 * directories it cannot find) and the action-cache integrity check (for which a missing one
 * makes the result a miss).
 *
 * @param directories the directories found, in visiting order
 * @param problem why the walk stopped early, or null when it saw the whole tree
 */
public record DirectoryWalk(List<Directory> directories, String problem) {

  /**
   * Walks from {@code root}. A missing directory is left out when {@code skipMissing}, else it
   * stops the walk; so does a blob that is not a Directory, and passing {@code limit}.
   */
  public static DirectoryWalk from(BlobStore cas, DigestFunction fn, Digest root, int limit,
      boolean skipMissing) {
    var found = new ArrayList<Directory>();
    var queue = new ArrayList<>(List.of(root));
    var seen = new HashSet<Digest>();
    for (int i = 0; i < queue.size(); i++) {
      var digest = queue.get(i);
      if (!seen.add(digest)) {
        continue;
      }
      if (seen.size() > limit) {
        return new DirectoryWalk(found, "the tree has more than " + limit + " directories");
      }
      var bytes = cas.getBytes(digest);
      if (bytes.isEmpty()) {
        if (skipMissing) {
          continue;
        }
        return new DirectoryWalk(found, "directory " + digest + " is missing");
      }
      Directory directory;
      try {
        directory = Directory.parseFrom(bytes.get());
      } catch (InvalidProtocolBufferException e) {
        return new DirectoryWalk(found, "blob " + digest + " is not a Directory");
      }
      found.add(directory);
      for (var sub : directory.getDirectoriesList()) {
        queue.add(new Digest(fn, sub.getDigest().getHash(), sub.getDigest().getSizeBytes()));
      }
    }
    return new DirectoryWalk(found, null);
  }

  public boolean complete() {
    return problem == null;
  }
}
