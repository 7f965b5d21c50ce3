package dev.buckcache.buck2;

import static org.assertj.core.api.Assertions.assertThat;

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
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.github.luben.zstd.Zstd;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.Hex;
import dev.buckcache.process.ServerProcess;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replays Buck2's call pattern (PROTOCOLS.md) against a real server process: capabilities, the
 * permission probe, FindMissingBlobs in 100-digest calls, batches packed to 4,000,000 bytes of
 * payload, ByteStream with uuid resource names (plain and zstd), and the action cache. Prints the
 * throughput it saw; asserts only correctness.
 */
class Buck2PatternTest {
  @TempDir static Path dir;
  static ServerProcess server;
  static ManagedChannel channel;
  private final Random random = new Random(17);

  @BeforeAll
  static void start(org.junit.jupiter.api.TestInfo info) throws Exception {
    server = ServerProcess.serve(dir.resolve("data"), "--max-size", "2GB", "--memory-size", "64MB");
    // The subclass runs the same calls against the HTTP port, which serves gRPC too.
    boolean sharedPort = info.getTestClass().orElseThrow() == Buck2PatternSharedPortTest.class;
    channel = Buck2Client.channel("127.0.0.1", sharedPort ? server.httpPort() : server.grpcPort());
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.stopAndCheck();
  }

  static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  private byte[] blob(int size) {
    var b = new byte[size];
    random.nextBytes(b);
    for (int i = 0; i < size; i += 2) {
      b[i] = (byte) (i >> 8);
    }
    return b;
  }

  private long batchLimit() {
    var caps = CapabilitiesGrpc.newBlockingStub(channel)
        .getCapabilities(GetCapabilitiesRequest.getDefaultInstance()).getCacheCapabilities();
    long server = caps.getMaxBatchTotalSizeBytes();
    return server == 0 ? Buck2Client.BUCK2_BATCH_LIMIT : Math.min(server, Buck2Client.BUCK2_BATCH_LIMIT);
  }

  @Test
  void permissionProbe_emptyResultWithEmptyMetadata_isAccepted() {
    var cas = ContentAddressableStorageGrpc.newBlockingStub(channel);
    var command = Command.getDefaultInstance().toByteArray();
    var action = Action.newBuilder().setCommandDigest(digest(command)).build().toByteArray();
    var missing = cas.findMissingBlobs(FindMissingBlobsRequest.newBuilder()
        .addBlobDigests(digest(command)).addBlobDigests(digest(action)).build());
    var upload = BatchUpdateBlobsRequest.newBuilder();
    for (var d : missing.getMissingBlobDigestsList()) {
      var data = d.equals(digest(command)) ? command : action;
      upload.addRequestsBuilder().setDigest(d).setData(ByteString.copyFrom(data));
    }
    cas.batchUpdateBlobs(upload.build()).getResponsesList()
        .forEach(r -> assertThat(r.getStatus().getCode()).isZero());
    var probe = ActionResult.newBuilder()
        .setExecutionMetadata(ExecutedActionMetadata.getDefaultInstance()).build();
    var echoed = ActionCacheGrpc.newBlockingStub(channel).updateActionResult(
        UpdateActionResultRequest.newBuilder().setActionDigest(digest(action))
            .setActionResult(probe).build());
    assertThat(echoed.hasExecutionMetadata()).isTrue();
  }

  @Test
  void smallBlobs_findMissingInHundreds_batchesPackedToTheLimit() {
    long limit = batchLimit();
    assertThat(limit).isEqualTo(4_000_000);
    var blobs = new ArrayList<byte[]>();
    for (int i = 0; i < 3000; i++) {
      blobs.add(blob(1 + random.nextInt(8000)));
    }
    var digests = blobs.stream().map(Buck2PatternTest::digest).toList();
    var cas = ContentAddressableStorageGrpc.newBlockingStub(channel);
    assertThat(findMissing(cas, digests)).hasSize(blobs.size());

    long t0 = System.nanoTime();
    long uploaded = 0;
    for (var batch : pack(blobs, limit)) {
      var req = BatchUpdateBlobsRequest.newBuilder();
      for (var b : batch) {
        req.addRequestsBuilder().setDigest(digest(b)).setData(ByteString.copyFrom(b));
        uploaded += b.length;
      }
      cas.batchUpdateBlobs(req.build()).getResponsesList()
          .forEach(r -> assertThat(r.getStatus().getCode()).isZero());
    }
    double uploadSeconds = (System.nanoTime() - t0) / 1e9;

    long t1 = System.nanoTime();
    int rounds = 20;
    for (int r = 0; r < rounds; r++) {
      assertThat(findMissing(cas, digests)).isEmpty();
    }
    double findSeconds = (System.nanoTime() - t1) / 1e9;

    var batches = pack(blobs, limit);
    var requests = new ArrayList<BatchReadBlobsRequest>();
    for (var batch : batches) {
      var req = BatchReadBlobsRequest.newBuilder();
      batch.forEach(b -> req.addDigests(digest(b)));
      requests.add(req.build());
    }
    requests.forEach(cas::batchReadBlobs); // warm-up, untimed
    long t2 = System.nanoTime();
    var responses = requests.stream().map(cas::batchReadBlobs).toList();
    double readSeconds = (System.nanoTime() - t2) / 1e9;
    long read = 0;
    for (int k = 0; k < batches.size(); k++) {
      var batch = batches.get(k);
      var resp = responses.get(k);
      for (int i = 0; i < batch.size(); i++) {
        assertThat(resp.getResponses(i).getStatus().getCode()).isZero();
        assertThat(resp.getResponses(i).getData().toByteArray()).isEqualTo(batch.get(i));
        read += batch.get(i).length;
      }
    }
    printRates(rounds, digests.size(), findSeconds, uploaded, uploadSeconds, read, readSeconds);
  }

  private static void printRates(int rounds, int digests, double findSeconds, long uploaded,
      double uploadSeconds, long read, double readSeconds) {
    System.out.printf("buck2 pattern: FindMissingBlobs %.0f digests/s (100 per call); "
            + "BatchUpdate %.1f MB/s; BatchRead %.1f MB/s%n",
        rounds * digests / findSeconds, uploaded / 1e6 / uploadSeconds, read / 1e6 / readSeconds);
  }

  private static List<Digest> findMissing(
      ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas, List<Digest> all) {
    var missing = new ArrayList<Digest>();
    for (int i = 0; i < all.size(); i += 100) {
      missing.addAll(cas.findMissingBlobs(FindMissingBlobsRequest.newBuilder()
          .addAllBlobDigests(all.subList(i, Math.min(all.size(), i + 100))).build())
          .getMissingBlobDigestsList());
    }
    return missing;
  }

  /** Buck2 packs payload bytes up to the limit, protobuf overhead not counted. */
  private static List<List<byte[]>> pack(List<byte[]> blobs, long limit) {
    var out = new ArrayList<List<byte[]>>();
    var current = new ArrayList<byte[]>();
    long size = 0;
    for (var b : blobs) {
      if (size + b.length > limit && !current.isEmpty()) {
        out.add(current);
        current = new ArrayList<>();
        size = 0;
      }
      current.add(b);
      size += b.length;
    }
    if (!current.isEmpty()) {
      out.add(current);
    }
    return out;
  }

  @Test
  void largeBlobs_byteStreamPlainAndZstd_thenActionCacheRoundTrip() throws Exception {
    long limit = batchLimit();
    var caps = CapabilitiesGrpc.newBlockingStub(channel)
        .getCapabilities(GetCapabilitiesRequest.getDefaultInstance()).getCacheCapabilities();
    assertThat(caps.getSupportedCompressorsList()).contains(Compressor.Value.ZSTD);
    var plain = blob(50_000_000);
    var zstd = blob(50_000_000);
    var warm = blob(20_000_000); // untimed: lets both JITs compile the paths first
    write("uploads/" + UUID.randomUUID() + "/blobs/" + sha(warm) + "/" + warm.length, warm, (int) limit);
    read("blobs/" + sha(warm) + "/" + warm.length);
    var plainHash = sha(plain);

    long t0 = System.nanoTime();
    write("uploads/" + UUID.randomUUID() + "/blobs/" + plainHash + "/" + plain.length,
        plain, (int) limit);
    double writeSeconds = (System.nanoTime() - t0) / 1e9;
    var packed = Zstd.compress(zstd, 1);
    write("uploads/" + UUID.randomUUID() + "/compressed-blobs/zstd/" + digest(zstd).getHash() + "/"
        + zstd.length, packed, (int) limit);

    long t1 = System.nanoTime();
    var readBack = read("blobs/" + digest(plain).getHash() + "/" + plain.length);
    double readSeconds = (System.nanoTime() - t1) / 1e9;
    assertThat(sha(readBack)).isEqualTo(digest(plain).getHash());
    var zipped = read("compressed-blobs/zstd/" + digest(zstd).getHash() + "/" + zstd.length);
    assertThat(sha(Zstd.decompress(zipped, zstd.length))).isEqualTo(digest(zstd).getHash());
    System.out.printf("buck2 pattern: ByteStream write %.0f MB/s, read %.0f MB/s (50 MB, %d-byte chunks)%n",
        plain.length / 1e6 / writeSeconds, plain.length / 1e6 / readSeconds, limit);

    var metadata = ExecutedActionMetadata.newBuilder().setWorker("buck2-local")
        .setExecutionStartTimestamp(Timestamp.newBuilder().setSeconds(1))
        .addAuxiliaryMetadata(Any.pack(Timestamp.newBuilder().setSeconds(2).build())).build();
    var result = ActionResult.newBuilder().setExecutionMetadata(metadata);
    result.addOutputFilesBuilder().setPath("out/big.bin").setDigest(digest(plain));
    result.addOutputFilesBuilder().setPath("out/other.bin").setDigest(digest(zstd));
    var action = digest(blob(100));
    var ac = ActionCacheGrpc.newBlockingStub(channel);
    ac.updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(action)
        .setActionResult(result).build());
    // Buck2 sends only instance_name and action_digest.
    var got = ac.getActionResult(GetActionResultRequest.newBuilder().setActionDigest(action).build());
    assertThat(got).isEqualTo(result.build());
    assertThat(got.getExecutionMetadata().getAuxiliaryMetadataCount()).isEqualTo(1);
  }

  private static String sha(byte[] b) {
    return DigestFunction.SHA256.hash(b);
  }

  private static void write(String resource, byte[] data, int chunk) throws Exception {
    var done = new CompletableFuture<WriteResponse>();
    var stream = ByteStreamGrpc.newStub(channel).write(new StreamObserver<>() {
      @Override public void onNext(WriteResponse v) { done.complete(v); }
      @Override public void onError(Throwable t) { done.completeExceptionally(t); }
      @Override public void onCompleted() {}
    });
    for (int off = 0; off < data.length; off += chunk) {
      int n = Math.min(chunk, data.length - off);
      stream.onNext(WriteRequest.newBuilder().setResourceName(resource).setWriteOffset(off)
          .setFinishWrite(off + n == data.length).setData(ByteString.copyFrom(data, off, n)).build());
    }
    stream.onCompleted();
    assertThat(done.get(120, TimeUnit.SECONDS).getCommittedSize()).isEqualTo(data.length);
  }

  private static byte[] read(String resource) {
    var out = new java.io.ByteArrayOutputStream();
    ByteStreamGrpc.newBlockingStub(channel)
        .read(ReadRequest.newBuilder().setResourceName(resource).build())
        .forEachRemaining(r -> {
          assertThat((long) r.getData().size()).isLessThan(2 * Buck2Client.BUCK2_BATCH_LIMIT);
          out.writeBytes(r.getData().toByteArray());
        });
    return out.toByteArray();
  }

  static String hex(byte[] b) {
    return Hex.encode(b);
  }
}
