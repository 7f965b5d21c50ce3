package dev.buckcache.grpc;

import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchReadBlobsResponse;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsResponse;
import build.bazel.remote.execution.v2.Compressor;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.FindMissingBlobsResponse;
import build.bazel.remote.execution.v2.GetTreeRequest;
import build.bazel.remote.execution.v2.GetTreeResponse;
import com.google.protobuf.UnsafeByteOperations;
import dev.buckcache.auth.Access;
import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.BlobStore;
import dev.buckcache.storage.CacheStore;
import dev.buckcache.storage.DirectoryWalk;
import dev.buckcache.storage.StoredChunk;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;

/** The CAS: presence checks, small-blob batches and directory trees over the shared store. */
final class CasService extends ContentAddressableStorageGrpc.ContentAddressableStorageImplBase {
  private static final int DEFAULT_TREE_PAGE = 1000;
  /** Directories one GetTree walks at most (the integrity check's limit too). */
  private static final int MAX_TREE = 100_000;

  private final CacheStore store;
  private final Digests digests;
  private final long maxBatchBytes;
  private final Offload offload;

  CasService(CacheStore store, Digests digests, long maxBatchBytes, Offload offload) {
    this.store = store;
    this.digests = digests;
    this.maxBatchBytes = maxBatchBytes;
    this.offload = offload;
  }

  private DigestFunction fn(String instance, build.bazel.remote.execution.v2.DigestFunction.Value v,
      List<build.bazel.remote.execution.v2.Digest> sample) {
    return digests.function(instance, v, sample.isEmpty() ? "" : sample.get(0).getHash());
  }

  @Override
  public void findMissingBlobs(FindMissingBlobsRequest request,
      StreamObserver<FindMissingBlobsResponse> response) {
    try {
      if (Callers.emptyCacheReason() != null) {
        response.onNext(FindMissingBlobsResponse.newBuilder()
            .addAllMissingBlobDigests(request.getBlobDigestsList()).build());
        response.onCompleted();
        return;
      }
      Callers.require(Access.READ, request.getInstanceName());
      var fn = fn(request.getInstanceName(), request.getDigestFunction(), request.getBlobDigestsList());
      var wanted = new ArrayList<Digest>(request.getBlobDigestsCount());
      for (var d : request.getBlobDigestsList()) {
        wanted.add(Digests.of(fn, d));
      }
      offload.unary(response, 0, () -> { // the request is claimed as it arrives (MessageBudget)
        var out = FindMissingBlobsResponse.newBuilder();
        store.findMissing(wanted).forEach(d -> out.addMissingBlobDigests(Digests.toProto(d)));
        return out.build();
      });
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.exception(e));
    }
  }

  @Override
  public void batchUpdateBlobs(BatchUpdateBlobsRequest request,
      StreamObserver<BatchUpdateBlobsResponse> response) {
    try {
      Callers.require(Access.WRITE_CAS, request.getInstanceName());
      var sample = request.getRequestsList().stream().map(r -> r.getDigest()).toList();
      var fn = fn(request.getInstanceName(), request.getDigestFunction(), sample);
      // The request's blobs are held until every one is stored: MessageBudget claimed them.
      offload.unary(response, 0, () -> update(fn, request));
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.exception(e));
    }
  }

  /** Each request that names a valid digest and compressor goes to the store in one batch. */
  private BatchUpdateBlobsResponse update(DigestFunction fn, BatchUpdateBlobsRequest request) {
    var requests = request.getRequestsList();
    var statuses = new Status[requests.size()];
    var blobs = new ArrayList<BlobStore.BatchBlob>();
    var positions = new ArrayList<Integer>();
    for (int i = 0; i < requests.size(); i++) {
      var r = requests.get(i);
      try {
        if (r.getCompressor() != Compressor.Value.IDENTITY
            && r.getCompressor() != Compressor.Value.ZSTD) {
          throw GrpcErrors.invalid("compressor " + r.getCompressor() + " is not supported");
        }
        blobs.add(new BlobStore.BatchBlob(Digests.of(fn, r.getDigest()),
            r.getData().asReadOnlyByteBuffer(), r.getCompressor() == Compressor.Value.ZSTD));
        positions.add(i);
      } catch (RuntimeException e) {
        statuses[i] = GrpcErrors.status(e);
      }
    }
    var outcomes = store.putAll(blobs);
    for (int k = 0; k < positions.size(); k++) {
      var failure = outcomes.get(k);
      statuses[positions.get(k)] = failure == null ? Status.OK : GrpcErrors.status(failure);
    }
    var out = BatchUpdateBlobsResponse.newBuilder();
    for (int i = 0; i < requests.size(); i++) {
      out.addResponsesBuilder().setDigest(requests.get(i).getDigest()).setStatus(toRpc(statuses[i]));
    }
    return out.build();
  }

  @Override
  public void batchReadBlobs(BatchReadBlobsRequest request,
      StreamObserver<BatchReadBlobsResponse> response) {
    try {
      var emptyCache = Callers.emptyCacheReason();
      if (emptyCache != null) {
        response.onNext(allNotFound(request, emptyCache));
        response.onCompleted();
        return;
      }
      Callers.require(Access.READ, request.getInstanceName());
      var fn = fn(request.getInstanceName(), request.getDigestFunction(), request.getDigestsList());
      long total = 0;
      for (var d : request.getDigestsList()) {
        total += d.getSizeBytes();
      }
      if (total > maxBatchBytes) {
        throw GrpcErrors.invalid("batch asks for " + total + " bytes, over the "
            + maxBatchBytes + "-byte batch limit: read large blobs with ByteStream");
      }
      boolean zstd = request.getAcceptableCompressorsList().contains(Compressor.Value.ZSTD);
      // The answer is built in memory: its blobs' sizes are claimed before any is read.
      offload.unary(response, total, () -> read(fn, request, zstd));
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.exception(e));
    }
  }

  private BatchReadBlobsResponse read(DigestFunction fn, BatchReadBlobsRequest request,
      boolean zstd) {
    var out = BatchReadBlobsResponse.newBuilder();
    var asked = request.getDigestsList();
    var digests = new Digest[asked.size()];
    var invalid = new RuntimeException[asked.size()];
    for (int i = 0; i < asked.size(); i++) {
      try {
        digests[i] = Digests.of(fn, asked.get(i));
      } catch (RuntimeException e) {
        invalid[i] = e;
      }
    }
    store.prefetch(java.util.Arrays.stream(digests).filter(java.util.Objects::nonNull).toList());
    for (int i = 0; i < asked.size(); i++) {
      var entry = out.addResponsesBuilder().setDigest(asked.get(i));
      try {
        if (invalid[i] != null) {
          throw invalid[i];
        }
        readOne(entry, asked.get(i), digests[i], zstd);
      } catch (RuntimeException e) {
        entry.setStatus(toRpc(GrpcErrors.status(e)));
      }
    }
    return out.build();
  }

  private void readOne(BatchReadBlobsResponse.Response.Builder entry,
      build.bazel.remote.execution.v2.Digest d, Digest digest, boolean zstd) {
    if (zstd && d.getSizeBytes() > 1024) {
      // The stored zstd frames as they are: no compression work per read.
      var reader = store.open(digest, 0);
      if (reader.isEmpty()) {
        entry.setStatus(notFound(d));
        return;
      }
      try (var r = reader.get()) {
        entry.setData(UnsafeByteOperations.unsafeWrap(StoredChunk.zstdStream(r)))
            .setCompressor(Compressor.Value.ZSTD).setStatus(toRpc(Status.OK));
      }
      return;
    }
    var bytes = store.getBytes(digest);
    if (bytes.isPresent()) {
      entry.setData(UnsafeByteOperations.unsafeWrap(bytes.get())).setStatus(toRpc(Status.OK));
    } else {
      entry.setStatus(notFound(d));
    }
  }

  private static com.google.rpc.Status notFound(build.bazel.remote.execution.v2.Digest d) {
    return toRpc(Status.NOT_FOUND.withDescription("blob " + d.getHash() + " not found"));
  }

  private static BatchReadBlobsResponse allNotFound(BatchReadBlobsRequest request, String reason) {
    var out = BatchReadBlobsResponse.newBuilder();
    var status = toRpc(Status.NOT_FOUND.withDescription(reason));
    request.getDigestsList().forEach(d -> out.addResponsesBuilder().setDigest(d).setStatus(status));
    return out.build();
  }

  /**
   * Streams the tree below a root Directory, breadth first, in pages. The page token is the
   * number of directories already returned; directories missing from the CAS are left out.
   */
  @Override
  public void getTree(GetTreeRequest request, StreamObserver<GetTreeResponse> response) {
    try {
      Callers.require(Access.READ, request.getInstanceName());
      var fn = fn(request.getInstanceName(), request.getDigestFunction(),
          List.of(request.getRootDigest()));
      int pageSize = request.getPageSize() <= 0 ? DEFAULT_TREE_PAGE
          : Math.min(request.getPageSize(), 10 * DEFAULT_TREE_PAGE);
      int start = pageToken(request.getPageToken());
      var root = Digests.of(fn, request.getRootDigest());
      var call = (io.grpc.stub.ServerCallStreamObserver<GetTreeResponse>) response;
      call.setOnCancelHandler(() -> {});
      var unused = offload.run(0, () -> walk(fn, root)).whenComplete((all, error) -> {
        if (error != null) {
          response.onError(GrpcErrors.exception(error));
        } else if (start > all.size()) {
          response.onError(GrpcErrors.invalid("page_token " + start + " is past the end of the tree"));
        } else {
          sendPages(response, all, start, pageSize);
        }
      });
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.exception(e));
    }
  }

  private static int pageToken(String token) {
    try {
      return token.isEmpty() ? 0 : Integer.parseInt(token);
    } catch (NumberFormatException e) {
      throw GrpcErrors.invalid("page_token '" + token + "' was not issued by this server");
    }
  }

  private static void sendPages(StreamObserver<GetTreeResponse> response, List<Directory> all,
      int start, int pageSize) {
    int i = start;
    do {
      int end = Math.min(all.size(), i + pageSize);
      var page = GetTreeResponse.newBuilder().addAllDirectories(all.subList(i, end));
      if (end < all.size()) {
        page.setNextPageToken(Integer.toString(end));
      }
      response.onNext(page.build());
      i = end;
    } while (i < all.size());
    response.onCompleted();
  }

  /** The directories below {@code root} (missing ones left out); never more than GetTree pages. */
  private List<Directory> walk(DigestFunction fn, Digest root) {
    var walk = DirectoryWalk.from(store, fn, root, MAX_TREE, true);
    if (!walk.complete()) {
      throw GrpcErrors.invalid(walk.problem());
    }
    return walk.directories();
  }

  static com.google.rpc.Status toRpc(Status status) {
    var b = com.google.rpc.Status.newBuilder().setCode(status.getCode().value());
    if (status.getDescription() != null) {
      b.setMessage(status.getDescription());
    }
    return b.build();
  }
}
