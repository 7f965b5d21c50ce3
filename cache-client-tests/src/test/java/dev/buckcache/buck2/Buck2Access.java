package dev.buckcache.buck2;

import build.bazel.remote.execution.v2.Action;
import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.Command;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;

/** Buck2's permission probe, for tests in other packages. */
public final class Buck2Access {
  private Buck2Access() {}

  public static ManagedChannel channel(int port, String token) {
    return Buck2Client.channel("127.0.0.1", port, token);
  }

  /** Uploads an empty Action/Command, then updates the action cache with an empty result. */
  public static void probe(ManagedChannel channel) {
    var command = Command.getDefaultInstance().toByteArray();
    var action = Action.newBuilder().setCommandDigest(Buck2PatternTest.digest(command)).build().toByteArray();
    var upload = BatchUpdateBlobsRequest.newBuilder();
    for (var b : new byte[][] {command, action}) {
      upload.addRequestsBuilder().setDigest(Buck2PatternTest.digest(b)).setData(ByteString.copyFrom(b));
    }
    var statuses = ContentAddressableStorageGrpc.newBlockingStub(channel).batchUpdateBlobs(upload.build());
    statuses.getResponsesList().forEach(r -> {
      if (r.getStatus().getCode() != 0) {
        throw new IllegalStateException("probe upload failed: " + r.getStatus());
      }
    });
    ActionCacheGrpc.newBlockingStub(channel).updateActionResult(UpdateActionResultRequest.newBuilder()
        .setActionDigest(Buck2PatternTest.digest(action))
        .setActionResult(ActionResult.newBuilder()
            .setExecutionMetadata(ExecutedActionMetadata.getDefaultInstance())).build());
  }
}
