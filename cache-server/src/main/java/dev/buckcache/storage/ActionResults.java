package dev.buckcache.storage;

import static java.util.Objects.requireNonNull;

import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.Tree;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.InvalidDigestException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Action-cache reads with integrity: an ActionResult is a hit only while every blob it references
 * (output files, output directory trees and their files, stdout and stderr) is in the CAS. A hit
 * counts as a use of those blobs, so they stay as long as the result does. Raw entries (ccache's)
 * are returned as stored.
 */
public final class ActionResults {
  /** Directories visited at most when an output directory is given only as a root Directory. */
  private static final int MAX_DIRECTORIES = 100_000;

  private final ActionCache actionCache;
  private final BlobStore cas;
  private final java.util.concurrent.atomic.LongAdder hits = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder misses = new java.util.concurrent.atomic.LongAdder();

  /** Lookups that returned an entry (integrity checked), since start. */
  public long hits() {
    return hits.sum();
  }

  /** Lookups that found nothing usable, since start. */
  public long misses() {
    return misses.sum();
  }

  public ActionResults(ActionCache actionCache, BlobStore cas) {
    this.actionCache = requireNonNull(actionCache, "actionCache");
    this.cas = requireNonNull(cas, "cas");
  }

  /** A lookup's outcome: the stored entry on a hit, else why it is a miss (for server logs). */
  public record Lookup(Optional<AcEntry> entry, Optional<ActionResult> result, String missReason) {
    static Lookup miss(String reason) {
      return new Lookup(Optional.empty(), Optional.empty(), reason);
    }

    public boolean hit() {
      return entry.isPresent();
    }
  }

  public Lookup get(AcKey key) {
    var lookup = lookup(key);
    (lookup.hit() ? hits : misses).increment();
    return lookup;
  }

  private Lookup lookup(AcKey key) {
    var stored = actionCache.get(key);
    if (stored.isEmpty()) {
      return Lookup.miss("no action-cache entry");
    }
    var entry = stored.get();
    if (entry.kind() == AcEntry.Kind.RAW) {
      return new Lookup(stored, Optional.empty(), "");
    }
    ActionResult result;
    try {
      result = ActionResult.parseFrom(entry.value());
    } catch (InvalidProtocolBufferException e) {
      return Lookup.miss("stored value is not an ActionResult: " + e.getMessage());
    }
    var missing = missingReferences(key.function(), result);
    if (!missing.isEmpty()) {
      return Lookup.miss(missing);
    }
    return new Lookup(stored, Optional.of(result), "");
  }

  public void put(AcKey key, ActionResult result) {
    actionCache.put(key, new AcEntry(AcEntry.Kind.ACTION_RESULT, result.toByteArray()));
  }

  /** Empty when complete; otherwise a sentence naming what is missing. */
  private String missingReferences(DigestFunction fn, ActionResult result) {
    var refs = new LinkedHashSet<Digest>();
    try {
      for (var f : result.getOutputFilesList()) {
        refs.add(digest(fn, f.getDigest()));
      }
      if (result.hasStdoutDigest()) {
        refs.add(digest(fn, result.getStdoutDigest()));
      }
      if (result.hasStderrDigest()) {
        refs.add(digest(fn, result.getStderrDigest()));
      }
      for (var dir : result.getOutputDirectoriesList()) {
        var problem = addDirectory(fn, dir, refs);
        if (!problem.isEmpty()) {
          return problem;
        }
      }
    } catch (InvalidDigestException e) {
      return "result references an invalid digest: " + e.getMessage();
    }
    var missing = cas.findMissing(new ArrayList<>(refs));
    return missing.isEmpty() ? "" : "referenced blob " + missing.get(0) + " is missing"
        + (missing.size() > 1 ? " (and " + (missing.size() - 1) + " more)" : "");
  }

  private String addDirectory(
      DigestFunction fn, build.bazel.remote.execution.v2.OutputDirectory dir, Set<Digest> refs) {
    if (dir.hasTreeDigest()) {
      var treeDigest = digest(fn, dir.getTreeDigest());
      var bytes = cas.getBytes(treeDigest);
      if (bytes.isEmpty()) {
        return "output directory " + dir.getPath() + ": tree " + treeDigest + " is missing";
      }
      try {
        var tree = Tree.parseFrom(bytes.get());
        addFiles(fn, tree.getRoot(), refs);
        for (var child : tree.getChildrenList()) {
          addFiles(fn, child, refs);
        }
      } catch (InvalidProtocolBufferException e) {
        return "output directory " + dir.getPath() + ": tree " + treeDigest + " is not a Tree";
      }
      return "";
    }
    if (dir.hasRootDirectoryDigest()) {
      return walkDirectories(fn, digest(fn, dir.getRootDirectoryDigest()), refs);
    }
    return "";
  }

  private String walkDirectories(DigestFunction fn, Digest root, Set<Digest> refs) {
    var walk = DirectoryWalk.from(cas, fn, root, MAX_DIRECTORIES, false);
    if (!walk.complete()) {
      return "output directory: " + walk.problem();
    }
    walk.directories().forEach(directory -> addFiles(fn, directory, refs));
    return "";
  }

  private static void addFiles(DigestFunction fn, Directory directory, Set<Digest> refs) {
    for (var file : directory.getFilesList()) {
      refs.add(digest(fn, file.getDigest()));
    }
  }

  private static Digest digest(DigestFunction fn, build.bazel.remote.execution.v2.Digest d) {
    return new Digest(fn, d.getHash(), d.getSizeBytes());
  }
}
