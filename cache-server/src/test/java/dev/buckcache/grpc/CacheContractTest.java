package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import build.bazel.remote.execution.v2.Action;
import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.Command;
import build.bazel.remote.execution.v2.Compressor;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.GetTreeRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.github.luben.zstd.Zstd;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.StringValue;
import dev.buckcache.config.DigestConfig;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskAudit;
import dev.buckcache.storage.disk.DiskSettings;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What REAPI clients (Buck2, Bazel) rely on, run against a real store through a channel. The
 * subclasses provide the transport: in-process, and the real Netty server.
 */
abstract class CacheContractTest {
  static final long BATCH = 4_000_000;
  static final DigestConfig DIGESTS =
      new DigestConfig(DigestFunction.SHA256, Map.of("b3", DigestFunction.BLAKE3));

  @TempDir Path dir;
  TieredStore store;
  ManagedChannel channel;
  private final Random random = new Random(3);

  abstract ManagedChannel start(TieredStore store) throws Exception;

  abstract void stop() throws Exception;

  @BeforeEach
  void open() throws Exception {
    store = TieredStore.open(new DiskSettings(dir, 512L << 20, 0.8, true, 1, 1 << 20), 16L << 20,
        1L << 34);
    channel = start(store);
  }

  @AfterEach
  void close() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    stop();
    var report = DiskAudit.run(store.disk());
    store.close();
    assertThat(report.problems()).isEmpty();
  }

  ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas() {
    return ContentAddressableStorageGrpc.newBlockingStub(channel);
  }

  ActionCacheGrpc.ActionCacheBlockingStub ac() {
    return ActionCacheGrpc.newBlockingStub(channel);
  }

  byte[] bytes(int n) {
    var b = new byte[n];
    random.nextBytes(b);
    for (int i = 0; i < n; i += 2) {
      b[i] = 'z';
    }
    return b;
  }

  static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  void upload(byte[]... blobs) {
    var req = BatchUpdateBlobsRequest.newBuilder();
    for (var b : blobs) {
      req.addRequestsBuilder().setDigest(digest(b)).setData(ByteString.copyFrom(b));
    }
    cas().batchUpdateBlobs(req.build()).getResponsesList()
        .forEach(r -> assertThat(r.getStatus().getCode()).isZero());
  }

  static Status.Code code(Throwable t) {
    return ((StatusRuntimeException) t).getStatus().getCode();
  }

  @Test
  void capabilities_cacheOnly_buck2Profile() {
    var caps = CapabilitiesGrpc.newBlockingStub(channel)
        .getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
    assertThat(caps.hasExecutionCapabilities()).isFalse();
    var cache = caps.getCacheCapabilities();
    assertThat(cache.getMaxBatchTotalSizeBytes()).isEqualTo(4_000_000);
    assertThat(cache.getSupportedCompressorsList()).contains(Compressor.Value.ZSTD);
    assertThat(cache.getSupportedBatchUpdateCompressorsList()).contains(Compressor.Value.ZSTD);
    assertThat(cache.getDigestFunctionsList())
        .contains(build.bazel.remote.execution.v2.DigestFunction.Value.SHA256,
            build.bazel.remote.execution.v2.DigestFunction.Value.BLAKE3);
    assertThat(cache.getActionCacheUpdateCapabilities().getUpdateEnabled()).isTrue();
    assertThat(caps.getLowApiVersion().getMajor()).isEqualTo(2);
    assertThat(caps.getHighApiVersion().getMinor()).isEqualTo(3);
  }

  @Test
  void findMissing_hundredDigests_reportsOnlyAbsent() {
    var present = new ArrayList<byte[]>();
    for (int i = 0; i < 50; i++) {
      present.add(bytes(100 + i));
    }
    upload(present.toArray(byte[][]::new));
    var req = FindMissingBlobsRequest.newBuilder();
    var absent = new ArrayList<Digest>();
    for (int i = 0; i < 50; i++) {
      req.addBlobDigests(digest(present.get(i)));
      var d = digest(bytes(10 + i));
      absent.add(d);
      req.addBlobDigests(d);
    }
    req.addBlobDigests(digest(new byte[0])); // the empty blob is always present
    assertThat(cas().findMissingBlobs(req.build()).getMissingBlobDigestsList())
        .containsExactlyElementsOf(absent);
  }

  @Test
  void findMissing_malformedDigest_invalidArgument() {
    var bad = Digest.newBuilder().setHash("XYZ").setSizeBytes(1).build();
    assertThatThrownBy(() -> cas().findMissingBlobs(
        FindMissingBlobsRequest.newBuilder().addBlobDigests(bad).build()))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("XYZ");
  }

  @Test
  void batchUpdateAndRead_packedToTheLimit_perBlobStatuses() {
    var blobs = new ArrayList<byte[]>();
    long total = 0;
    while (total + 100_000 <= BATCH) {
      blobs.add(bytes(100_000));
      total += 100_000;
    }
    upload(blobs.toArray(byte[][]::new));
    var wrong = BatchUpdateBlobsRequest.newBuilder();
    wrong.addRequestsBuilder().setDigest(digest(bytes(10))).setData(ByteString.copyFrom(bytes(10)));
    var packed = bytes(5000);
    wrong.addRequestsBuilder().setDigest(digest(packed))
        .setData(ByteString.copyFrom(Zstd.compress(packed))).setCompressor(Compressor.Value.ZSTD);
    var statuses = cas().batchUpdateBlobs(wrong.build()).getResponsesList();
    assertThat(statuses.get(0).getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
    assertThat(statuses.get(1).getStatus().getCode()).isZero();

    var read = BatchReadBlobsRequest.newBuilder();
    blobs.forEach(b -> read.addDigests(digest(b)));
    var got = cas().batchReadBlobs(read.build()).getResponsesList();
    assertThat(got).hasSize(blobs.size());
    for (int i = 0; i < blobs.size(); i++) {
      assertThat(got.get(i).getStatus().getCode()).isZero();
      assertThat(got.get(i).getData().toByteArray()).isEqualTo(blobs.get(i));
    }
    var missing = cas().batchReadBlobs(BatchReadBlobsRequest.newBuilder()
        .addDigests(digest(bytes(7))).build()).getResponses(0);
    assertThat(missing.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND.value());
  }

  @Test
  void batchRead_overTheLimit_invalidArgument_andZstdWhenAccepted() {
    var big = Digest.newBuilder().setHash("a".repeat(64)).setSizeBytes(BATCH + 1).build();
    assertThatThrownBy(() -> cas().batchReadBlobs(
        BatchReadBlobsRequest.newBuilder().addDigests(big).build()))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.INVALID_ARGUMENT));
    var blob = bytes(50_000);
    upload(blob);
    var r = cas().batchReadBlobs(BatchReadBlobsRequest.newBuilder().addDigests(digest(blob))
        .addAcceptableCompressors(Compressor.Value.ZSTD).build()).getResponses(0);
    assertThat(r.getCompressor()).isEqualTo(Compressor.Value.ZSTD);
    assertThat(Zstd.decompress(r.getData().toByteArray(), blob.length)).isEqualTo(blob);
    // A blob of several chunks on disk: its stored zstd frames, concatenated, are the answer.
    var text = "compressible line of a build log, again and again\n".repeat(50_000)
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    upload(text);
    var z = cas().batchReadBlobs(BatchReadBlobsRequest.newBuilder().addDigests(digest(text))
        .addAcceptableCompressors(Compressor.Value.ZSTD).build()).getResponses(0);
    assertThat(z.getCompressor()).isEqualTo(Compressor.Value.ZSTD);
    assertThat(z.getData().size()).isLessThan(text.length / 10);
    assertThat(Zstd.decompress(z.getData().toByteArray(), text.length)).isEqualTo(text);
  }

  @Test
  void actionCache_buck2PermissionProbe_echoesEmptyMetadata() {
    var command = Command.getDefaultInstance().toByteArray();
    var action = Action.newBuilder().setCommandDigest(digest(command)).build().toByteArray();
    upload(command, action);
    var empty = ActionResult.newBuilder()
        .setExecutionMetadata(ExecutedActionMetadata.getDefaultInstance()).build();
    var echoed = ac().updateActionResult(UpdateActionResultRequest.newBuilder()
        .setActionDigest(digest(action)).setActionResult(empty).build());
    assertThat(echoed.hasExecutionMetadata()).isTrue();
    var got = ac().getActionResult(GetActionResultRequest.newBuilder()
        .setActionDigest(digest(action)).build());
    assertThat(got.hasExecutionMetadata()).isTrue();
  }

  @Test
  void actionCache_hitKeepsAuxiliaryMetadata_missingOutputIsNotFound_inlineStdout() {
    var out = bytes(3000);
    var stdout = "compiled fine\n".getBytes(StandardCharsets.UTF_8);
    upload(out, stdout);
    var meta = ExecutedActionMetadata.newBuilder().setWorker("buck2")
        .addAuxiliaryMetadata(Any.pack(StringValue.of("aux"))).build();
    var result = ActionResult.newBuilder().setExecutionMetadata(meta).setStdoutDigest(digest(stdout));
    result.addOutputFilesBuilder().setPath("out.o").setDigest(digest(out));
    var action = digest(bytes(20));
    ac().updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(action)
        .setActionResult(result).build());
    var got = ac().getActionResult(GetActionResultRequest.newBuilder().setActionDigest(action)
        .setInlineStdout(true).build());
    assertThat(got.getExecutionMetadata()).isEqualTo(meta);
    assertThat(got.getStdoutRaw().toStringUtf8()).isEqualTo("compiled fine\n");

    var lost = digest(bytes(30));
    var dangling = ActionResult.newBuilder();
    dangling.addOutputFilesBuilder().setPath("gone.o").setDigest(digest(bytes(40)));
    ac().updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(lost)
        .setActionResult(dangling).build());
    assertThatThrownBy(() -> ac().getActionResult(
        GetActionResultRequest.newBuilder().setActionDigest(lost).build()))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.NOT_FOUND))
        .hasMessageContaining("missing");
  }

  @Test
  void actionCache_perInstance() {
    var action = digest(bytes(20));
    ac().updateActionResult(UpdateActionResultRequest.newBuilder().setInstanceName("one")
        .setActionDigest(action).setActionResult(ActionResult.getDefaultInstance()).build());
    assertThatThrownBy(() -> ac().getActionResult(GetActionResultRequest.newBuilder()
        .setInstanceName("two").setActionDigest(action).build()))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.NOT_FOUND));
  }

  /** Writes like Buck2: uuid resource name, batch-limit chunks, offsets, finish on the last. */
  WriteResponse byteStreamWrite(String resource, byte[] data, int chunk) throws Exception {
    var done = new CompletableFuture<WriteResponse>();
    var stream = ByteStreamGrpc.newStub(channel).write(new StreamObserver<>() {
      @Override public void onNext(WriteResponse v) { done.complete(v); }
      @Override public void onError(Throwable t) { done.completeExceptionally(t); }
      @Override public void onCompleted() {}
    });
    for (int off = 0; off < data.length || off == 0; off += chunk) {
      int n = Math.min(chunk, data.length - off);
      stream.onNext(WriteRequest.newBuilder().setResourceName(off == 0 ? resource : "")
          .setWriteOffset(off).setFinishWrite(off + n >= data.length)
          .setData(ByteString.copyFrom(data, off, n)).build());
      if (n == 0) {
        break;
      }
    }
    stream.onCompleted();
    return done.get(60, TimeUnit.SECONDS);
  }

  byte[] byteStreamRead(String resource, long offset, long limit) {
    var out = new ByteArrayOutputStream();
    ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
        .setResourceName(resource).setReadOffset(offset).setReadLimit(limit).build())
        .forEachRemaining(r -> out.writeBytes(r.getData().toByteArray()));
    return out.toByteArray();
  }

  @Test
  void byteStream_plainAndZstd_roundTrip_withOffsets() throws Exception {
    var data = bytes(9_000_000);
    var d = digest(data);
    var upload = "main/uploads/" + UUID.randomUUID() + "/blobs/" + d.getHash() + "/" + d.getSizeBytes();
    assertThat(byteStreamWrite(upload, data, (int) BATCH).getCommittedSize()).isEqualTo(data.length);
    var name = "main/blobs/" + d.getHash() + "/" + d.getSizeBytes();
    assertThat(byteStreamRead(name, 0, 0)).isEqualTo(data);
    assertThat(byteStreamRead(name, 5_000_000, 1000))
        .isEqualTo(java.util.Arrays.copyOfRange(data, 5_000_000, 5_001_000));
    var zipped = byteStreamRead("main/compressed-blobs/zstd/" + d.getHash() + "/" + d.getSizeBytes(), 0, 0);
    assertThat(Zstd.decompress(zipped, data.length)).isEqualTo(data);

    var other = bytes(6_000_000);
    var od = digest(other);
    var packed = Zstd.compress(other, 3);
    var zupload = "uploads/" + UUID.randomUUID() + "/compressed-blobs/zstd/" + od.getHash() + "/" + od.getSizeBytes();
    assertThat(byteStreamWrite(zupload, packed, 1 << 20).getCommittedSize()).isEqualTo(packed.length);
    assertThat(byteStreamRead("blobs/" + od.getHash() + "/" + od.getSizeBytes(), 0, 0)).isEqualTo(other);
  }

  @Test
  void byteStream_errors_areClear() {
    var d = digest(bytes(100));
    assertThatThrownBy(() -> byteStreamRead("blobs/" + d.getHash() + "/" + d.getSizeBytes(), 0, 0))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.NOT_FOUND));
    var data = bytes(100);
    upload(data);
    var dd = digest(data);
    assertThatThrownBy(() -> byteStreamRead("blobs/" + dd.getHash() + "/100", 101, 0))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.OUT_OF_RANGE));
    assertThatThrownBy(() -> byteStreamRead("nonsense/path", 0, 0))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("malformed resource name");
    var wrong = bytes(1000);
    assertThatThrownBy(() -> byteStreamWrite("uploads/" + UUID.randomUUID() + "/blobs/"
        + dd.getHash() + "/1000", wrong, 400))
        .hasCauseInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(code(e.getCause())).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  @Test
  void byteStream_brokenUpload_resumesFromCommittedSize() throws Exception {
    var data = bytes(3_000_000);
    var d = digest(data);
    var resource = "uploads/" + UUID.randomUUID() + "/blobs/" + d.getHash() + "/" + d.getSizeBytes();
    var first = ByteStreamGrpc.newStub(channel).write(new StreamObserver<WriteResponse>() {
      @Override public void onNext(WriteResponse v) {}
      @Override public void onError(Throwable t) {}
      @Override public void onCompleted() {}
    });
    first.onNext(WriteRequest.newBuilder().setResourceName(resource)
        .setData(ByteString.copyFrom(data, 0, 1_000_000)).build());
    var status = ByteStreamGrpc.newBlockingStub(channel);
    long committed = 0;
    for (int i = 0; i < 100 && committed == 0; i++) {
      Thread.sleep(20);
      committed = status.queryWriteStatus(QueryWriteStatusRequest.newBuilder()
          .setResourceName(resource).build()).getCommittedSize();
      if (i == 10) {
        first.onError(Status.CANCELLED.asRuntimeException()); // the connection broke
      }
    }
    assertThat(committed).isEqualTo(1_000_000);
    var done = new CompletableFuture<WriteResponse>();
    var second = ByteStreamGrpc.newStub(channel).write(new StreamObserver<WriteResponse>() {
      @Override public void onNext(WriteResponse v) { done.complete(v); }
      @Override public void onError(Throwable t) { done.completeExceptionally(t); }
      @Override public void onCompleted() {}
    });
    second.onNext(WriteRequest.newBuilder().setResourceName(resource).setWriteOffset(committed)
        .setFinishWrite(true).setData(ByteString.copyFrom(data, 1_000_000, 2_000_000)).build());
    second.onCompleted();
    assertThat(done.get(30, TimeUnit.SECONDS).getCommittedSize()).isEqualTo(3_000_000);
    var complete = status.queryWriteStatus(QueryWriteStatusRequest.newBuilder()
        .setResourceName(resource).build());
    assertThat(complete.getComplete()).isTrue();
    assertThat(byteStreamRead("blobs/" + d.getHash() + "/" + d.getSizeBytes(), 0, 0)).isEqualTo(data);
  }

  @Test
  void getTree_pagesThroughTheDirectories() {
    var leaves = new ArrayList<Directory>();
    var root = Directory.newBuilder();
    for (int i = 0; i < 3; i++) {
      var leaf = Directory.newBuilder().addFilesBuilder().setName("f" + i)
          .setDigest(digest(("x" + i).getBytes(StandardCharsets.UTF_8))).build();
      var leafDir = Directory.newBuilder().addFiles(leaf).build();
      leaves.add(leafDir);
      upload(leafDir.toByteArray());
      root.addDirectories(DirectoryNode.newBuilder().setName("d" + i)
          .setDigest(digest(leafDir.toByteArray())));
    }
    upload(root.build().toByteArray());
    var pages = new ArrayList<build.bazel.remote.execution.v2.GetTreeResponse>();
    cas().getTree(GetTreeRequest.newBuilder().setRootDigest(digest(root.build().toByteArray()))
        .setPageSize(2).build()).forEachRemaining(pages::add);
    assertThat(pages).hasSize(2);
    assertThat(pages.get(0).getNextPageToken()).isEqualTo("2");
    var all = new ArrayList<Directory>();
    pages.forEach(p -> all.addAll(p.getDirectoriesList()));
    assertThat(all).hasSize(4).contains(root.build()).containsAll(leaves);
  }

  @Test
  void blake3Instance_withoutDigestFunction_usesBlake3() {
    var data = bytes(500);
    var b3 = Digest.newBuilder().setHash(DigestFunction.BLAKE3.hash(data)).setSizeBytes(500).build();
    var statuses = cas().batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder().setInstanceName("b3")
        .addRequests(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(b3)
            .setData(ByteString.copyFrom(data))).build());
    assertThat(statuses.getResponses(0).getStatus().getCode()).isZero();
    assertThat(cas().findMissingBlobs(FindMissingBlobsRequest.newBuilder().setInstanceName("b3")
        .addBlobDigests(b3).build()).getMissingBlobDigestsCount()).isZero();
    // Explicit digest_function wins over the instance default.
    assertThat(cas().findMissingBlobs(FindMissingBlobsRequest.newBuilder().setInstanceName("b3")
        .setDigestFunction(build.bazel.remote.execution.v2.DigestFunction.Value.SHA256)
        .addBlobDigests(b3).build()).getMissingBlobDigestsCount()).isEqualTo(1);
  }


  @Test
  void blobLargerThanTheStore_resourceExhausted() {
    var huge = Digest.newBuilder().setHash("b".repeat(64)).setSizeBytes(10L << 30).build();
    var status = cas().batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder()
        .addRequests(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(huge)).build())
        .getResponses(0).getStatus();
    assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED.value());
    assertThat(status.getMessage()).contains("larger than the whole store");
    assertThatThrownBy(() -> byteStreamWrite("uploads/" + UUID.randomUUID() + "/blobs/"
        + huge.getHash() + "/" + huge.getSizeBytes(), bytes(10), 10))
        .satisfies(e -> assertThat(code(e.getCause())).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
  }
}
