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

  /** Keys whose last store was refused, remembered so that their next miss can say so. */
  private static final int REFUSALS_KEPT = 100_000;
  static final int INSTANCES_TRACKED = 10_000;

  private final ActionCache actionCache;
  private final BlobStore cas;
  private final java.util.EnumMap<MissCause, java.util.concurrent.atomic.LongAdder> causes =
      new java.util.EnumMap<>(MissCause.class);
  private final com.github.benmanes.caffeine.cache.Cache<AcKey, Boolean> refusals =
      com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumSize(REFUSALS_KEPT)
          .executor(Runnable::run).build();
  /**
   * Per instance, a bit per digest function (by id) that results were stored under. Instance names
   * come from clients, so at most {@link #INSTANCES_TRACKED} are tracked; results in further
   * instances never report a digest-function mismatch.
   */
  private final java.util.concurrent.ConcurrentHashMap<String, Integer> functionsStored =
      new java.util.concurrent.ConcurrentHashMap<>();
  private volatile LookupObserver observer = (key, cause) -> {};

  /** Told of every lookup (cause null on a hit), e.g. to keep hourly hit rates. */
  @FunctionalInterface
  public interface LookupObserver {
    void looked(AcKey key, MissCause cause);
  }
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
    for (var cause : MissCause.values()) {
      causes.put(cause, new java.util.concurrent.atomic.LongAdder());
    }
  }

  /**
   * A lookup's outcome: the stored entry on a hit, else why it is a miss: a sentence for server
   * logs and a cause for metrics (null on a hit).
   */
  public record Lookup(Optional<AcEntry> entry, Optional<ActionResult> result, String missReason,
      MissCause cause) {
    static Lookup miss(MissCause cause, String reason) {
      return new Lookup(Optional.empty(), Optional.empty(), reason, cause);
    }

    public boolean hit() {
      return entry.isPresent();
    }
  }

  public Lookup get(AcKey key) {
    var lookup = lookup(key);
    (lookup.hit() ? hits : misses).increment();
    if (!lookup.hit()) {
      causes.get(lookup.cause()).increment();
    }
    observer.looked(key, lookup.cause());
    return lookup;
  }

  private Lookup lookup(AcKey key) {
    var stored = actionCache.get(key);
    if (stored.isEmpty()) {
      return absent(key);
    }
    var entry = stored.get();
    if (entry.kind() == AcEntry.Kind.RAW) {
      return new Lookup(stored, Optional.empty(), "", null);
    }
    ActionResult result;
    try {
      result = ActionResult.parseFrom(entry.value());
    } catch (InvalidProtocolBufferException e) {
      return Lookup.miss(MissCause.INVALID_ENTRY,
          "stored value is not an ActionResult: " + e.getMessage());
    }
    var missing = missingReferences(key.function(), result);
    if (!missing.isEmpty()) {
      return Lookup.miss(missing.startsWith("result references an invalid digest")
          ? MissCause.INVALID_ENTRY : MissCause.OUTPUTS_EVICTED, missing);
    }
    return new Lookup(stored, Optional.of(result), "", null);
  }

  /** Why there is no entry: a refused upload, another digest function, or never stored. */
  private Lookup absent(AcKey key) {
    if (refusals.getIfPresent(key) != null) {
      return Lookup.miss(MissCause.UPLOAD_REFUSED,
          "no action-cache entry: the last upload of this result was refused");
    }
    int stored = functionsStored.getOrDefault(key.instance(), 0);
    if (stored != 0 && (stored & bit(key.function())) == 0) {
      return Lookup.miss(MissCause.DIGEST_FUNCTION_MISMATCH, "no action-cache entry: instance '"
          + key.instance() + "' holds results under another digest function, none under "
          + key.function().name().toLowerCase(java.util.Locale.ROOT));
    }
    return Lookup.miss(MissCause.NEVER_STORED, "no action-cache entry");
  }

  private static int bit(DigestFunction fn) {
    return 1 << (fn.id() & 31);
  }

  public void put(AcKey key, ActionResult result) {
    put(key, new AcEntry(AcEntry.Kind.ACTION_RESULT, result.toByteArray()));
  }

  /**
   * Stores a result (or a raw value) and remembers the digest function its instance uses; a store
   * refused for lack of room is remembered as a refusal (see {@link MissCause#UPLOAD_REFUSED}).
   */
  public void put(AcKey key, AcEntry entry) {
    try {
      actionCache.put(key, entry);
    } catch (StorageException.StoreFull e) {
      refused(key);
      throw e;
    }
    stored(key);
  }

  /** Notes a store of this key that a front end did not let through (its next miss says so). */
  public void refused(AcKey key) {
    refusals.put(key, Boolean.TRUE);
  }

  /** Notes a successful store (for {@link MissCause#DIGEST_FUNCTION_MISMATCH}). */
  public void stored(AcKey key) {
    refusals.invalidate(key);
    int bit = bit(key.function());
    var bits = functionsStored.get(key.instance());
    if (bits == null ? functionsStored.size() < INSTANCES_TRACKED : (bits & bit) == 0) {
      functionsStored.merge(key.instance(), bit, (a, b) -> a | b);
    }
  }

  /** Misses with this cause since start. */
  public long misses(MissCause cause) {
    return causes.get(cause).sum();
  }

  public void observe(LookupObserver observer) {
    this.observer = requireNonNull(observer, "observer");
  }

  /** Per instance, the digest-function bits stored under (for persisting them). */
  public java.util.Map<String, Integer> functionsStored() {
    return java.util.Map.copyOf(functionsStored);
  }

  public void restoreFunctionsStored(java.util.Map<String, Integer> stored) {
    stored.forEach((instance, bits) -> {
      if (functionsStored.size() < INSTANCES_TRACKED || functionsStored.containsKey(instance)) {
        functionsStored.merge(instance, bits, (a, b) -> a | b);
      }
    });
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
