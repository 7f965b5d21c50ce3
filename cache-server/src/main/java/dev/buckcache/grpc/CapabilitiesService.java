package dev.buckcache.grpc;

import build.bazel.remote.execution.v2.ActionCacheUpdateCapabilities;
import build.bazel.remote.execution.v2.CacheCapabilities;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.Compressor;
import build.bazel.remote.execution.v2.DigestFunction;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.ServerCapabilities;
import build.bazel.remote.execution.v2.SymlinkAbsolutePathStrategy;
import build.bazel.semver.SemVer;
import dev.buckcache.auth.Access;
import io.grpc.stub.StreamObserver;

/**
 * A cache-only server's capabilities. Execution capabilities are left unset: older Buck2 rejects
 * a server that says {@code exec_enabled = false}.
 */
final class CapabilitiesService extends CapabilitiesGrpc.CapabilitiesImplBase {
  private final long maxBatchBytes;

  CapabilitiesService(long maxBatchBytes) {
    this.maxBatchBytes = maxBatchBytes;
  }

  @Override
  public void getCapabilities(GetCapabilitiesRequest request,
      StreamObserver<ServerCapabilities> response) {
    var cache = CacheCapabilities.newBuilder()
        .addDigestFunctions(DigestFunction.Value.SHA256)
        .addDigestFunctions(DigestFunction.Value.BLAKE3)
        .addDigestFunctions(DigestFunction.Value.SHA1)
        .addDigestFunctions(DigestFunction.Value.SHA384)
        .addDigestFunctions(DigestFunction.Value.SHA512)
        .setActionCacheUpdateCapabilities(
            ActionCacheUpdateCapabilities.newBuilder().setUpdateEnabled(
                Callers.permits(Access.WRITE_AC, request.getInstanceName())))
        .setMaxBatchTotalSizeBytes(maxBatchBytes)
        .setSymlinkAbsolutePathStrategy(SymlinkAbsolutePathStrategy.Value.ALLOWED)
        .addSupportedCompressors(Compressor.Value.ZSTD)
        .addSupportedBatchUpdateCompressors(Compressor.Value.ZSTD);
    response.onNext(ServerCapabilities.newBuilder()
        .setCacheCapabilities(cache)
        .setLowApiVersion(SemVer.newBuilder().setMajor(2))
        .setHighApiVersion(SemVer.newBuilder().setMajor(2).setMinor(3))
        .setDeprecatedApiVersion(SemVer.newBuilder().setMajor(2))
        .build());
    response.onCompleted();
  }
}
