package dev.buckcache.grpc;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.google.protobuf.ByteString;
import dev.buckcache.auth.Access;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.CacheStore;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.HashSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The action cache. A result is returned only while all its outputs are in the CAS. Buck2 turns
 * every GetActionResult error into a silent miss, so every miss is logged with its reason: at INFO
 * when an entry exists but cannot be served, at DEBUG (BUCKCACHE_LOG_LEVEL=DEBUG) for a plain
 * absence, which a cold build produces by the thousand.
 */
final class ActionCacheService extends ActionCacheGrpc.ActionCacheImplBase {
  private static final Logger log = LoggerFactory.getLogger(ActionCacheService.class);
  private static final long MAX_INLINE = 1 << 20;

  private final CacheStore store;
  private final ActionResults results;
  private final Digests digests;
  private final Offload offload;

  ActionCacheService(CacheStore store, ActionResults results, Digests digests, Offload offload) {
    this.store = store;
    this.results = results;
    this.digests = digests;
    this.offload = offload;
  }

  @Override
  public void getActionResult(GetActionResultRequest request,
      StreamObserver<ActionResult> response) {
    try {
      Callers.require(Access.READ, request.getInstanceName());
      var fn = digests.function(request.getInstanceName(), request.getDigestFunction(),
          request.getActionDigest().getHash());
      var action = Digests.of(fn, request.getActionDigest());
      offload.unary(response, 0, () -> lookup(fn, action, request));
    } catch (io.grpc.StatusRuntimeException e) {
      if (Callers.emptyCacheReason() == null) { // empty-cache callers are logged once a minute
        log.info("GetActionResult refused: {}", e.getStatus());
      }
      response.onError(e);
    } catch (RuntimeException e) {
      log.warn("GetActionResult failed: {}", e.toString());
      response.onError(GrpcErrors.exception(e));
    }
  }

  private ActionResult lookup(DigestFunction fn, dev.buckcache.digest.Digest action,
      GetActionResultRequest request) {
    var lookup = results.get(new AcKey(request.getInstanceName(), fn, action.hash()));
    var record = MetricsInterceptor.current();
    if (record != null) {
      record.cause = lookup.cause();
    }
    if (lookup.result().isEmpty()) {
      var reason = lookup.hit() ? "stored value is not an ActionResult" : lookup.missReason();
      if (lookup.hit() || !reason.equals("no action-cache entry")) {
        log.info("GetActionResult {} in '{}' is a miss: {}", action, request.getInstanceName(), reason);
      } else {
        log.debug("GetActionResult {} in '{}' is a miss: {}", action, request.getInstanceName(), reason);
      }
      throw Status.NOT_FOUND.withDescription(reason).asRuntimeException();
    }
    return inline(fn, request, lookup.result().get());
  }

  /** Fills stdout/stderr/file contents the client asked for, when small. */
  private ActionResult inline(DigestFunction fn, GetActionResultRequest request, ActionResult r) {
    var wanted = new HashSet<>(request.getInlineOutputFilesList());
    if (!request.getInlineStdout() && !request.getInlineStderr() && wanted.isEmpty()) {
      return r;
    }
    var b = r.toBuilder();
    if (request.getInlineStdout() && r.hasStdoutDigest()) {
      contents(fn, r.getStdoutDigest()).ifPresent(b::setStdoutRaw);
    }
    if (request.getInlineStderr() && r.hasStderrDigest()) {
      contents(fn, r.getStderrDigest()).ifPresent(b::setStderrRaw);
    }
    for (var file : b.getOutputFilesBuilderList()) {
      if (wanted.contains(file.getPath())) {
        contents(fn, file.getDigest()).ifPresent(file::setContents);
      }
    }
    return b.build();
  }

  private java.util.Optional<ByteString> contents(DigestFunction fn,
      build.bazel.remote.execution.v2.Digest d) {
    if (d.getSizeBytes() > MAX_INLINE) {
      return java.util.Optional.empty();
    }
    return store.getBytes(Digests.of(fn, d)).map(ByteString::copyFrom);
  }

  private AcKey key(UpdateActionResultRequest request) {
    var fn = digests.function(request.getInstanceName(), request.getDigestFunction(),
        request.getActionDigest().getHash());
    return new AcKey(request.getInstanceName(), fn, Digests.of(fn, request.getActionDigest()).hash());
  }

  @Override
  public void updateActionResult(UpdateActionResultRequest request,
      StreamObserver<ActionResult> response) {
    try {
      Callers.require(Access.WRITE_AC, request.getInstanceName());
      var key = key(request);
      var result = request.getActionResult();
      var writer = Callers.writer();
      offload.unary(response, 0, () -> { // the request is claimed as it arrives (MessageBudget)
        results.put(key, new dev.buckcache.storage.AcEntry(
            dev.buckcache.storage.AcEntry.Kind.ACTION_RESULT, result.toByteArray(), writer));
        return result;
      });
    } catch (io.grpc.StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED) {
        try {
          results.refused(key(request)); // its next lookup is a miss this refusal caused
        } catch (RuntimeException invalid) {
          // an invalid digest names no entry
        }
      }
      response.onError(e);
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.exception(e));
    }
  }
}
