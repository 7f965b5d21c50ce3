package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import dev.buckcache.auth.Authenticator;
import dev.buckcache.auth.CallerResolver;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.StorageExecutor;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.disk.DiskAudit;
import dev.buckcache.storage.disk.DiskSettings;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC under overload: storage work goes to the shared bounded executor and the shared byte
 * budget, so a full executor or budget answers RESOURCE_EXHAUSTED at once, and a call that ends
 * early (cancelled read, abandoned write) gives back everything it held.
 */
class GrpcOverloadTest {
  @TempDir Path dir;
  private TieredStore store;
  private StorageExecutor executor;
  private GrpcFrontEnd server;
  private ManagedChannel channel;
  private final Random random = new Random(5);

  private void start(int threads, int queue, long budget) throws Exception {
    start(threads, queue, budget, java.util.function.UnaryOperator.identity());
  }

  /** Serves {@code wrap} of the store (a test's hook around store calls). */
  private void start(int threads, int queue, long budget,
      java.util.function.UnaryOperator<dev.buckcache.storage.CacheStore> wrap) throws Exception {
    store = TieredStore.open(new DiskSettings(dir, 512L << 20, 0.8, true, 1, 1 << 20), 0, 1L << 34);
    executor = new StorageExecutor(threads, queue, budget);
    var served = wrap.apply(store);
    server = GrpcFrontEnd.builder(new dev.buckcache.config.GrpcConfig(
        new InetSocketAddress("127.0.0.1", 0), 4_000_000), served).executor(executor)
        .results(new ActionResults(served, served)).digests(CacheContractTest.DIGESTS).start();
    channel = NettyChannelBuilder.forAddress(server.address()).usePlaintext()
        .maxInboundMessageSize(16 << 20).build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    assertThat(executor.shutdown(10, TimeUnit.SECONDS)).as("queued work and releases done").isTrue();
    executor.close();
    assertThat(executor.inflightBytes()).as("every claim returned").isZero();
    assertThat(store.stats().openReaders()).as("open readers").isZero();
    assertThat(store.stats().openWriters()).as("open writers").isZero();
    var report = DiskAudit.run(store.disk());
    store.close();
    assertThat(report.problems()).isEmpty();
  }

  private ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas() {
    return ContentAddressableStorageGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private byte[] bytes(int n) {
    var b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  private static Digest digest(byte[] b) {
    return Digest.newBuilder().setHash(DigestFunction.SHA256.hash(b)).setSizeBytes(b.length).build();
  }

  private static Status.Code code(Throwable t) {
    return ((StatusRuntimeException) t).getStatus().getCode();
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  @Test
  void findMissing_storageExecutorFull_resourceExhaustedAtOnce() throws Exception {
    start(1, 1, 64L << 20);
    var block = new CountDownLatch(1);
    try {
      var unused1 = executor.submit(() -> block.await(30, TimeUnit.SECONDS));
      var unused2 = executor.submit(() -> block.await(30, TimeUnit.SECONDS));
      var request = FindMissingBlobsRequest.newBuilder().addBlobDigests(digest(bytes(10))).build();
      assertThatThrownBy(() -> cas().findMissingBlobs(request))
          .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
          .hasMessageContaining("saturated");
    } finally {
      block.countDown();
    }
    var request = FindMissingBlobsRequest.newBuilder().addBlobDigests(digest(bytes(10))).build();
    await(() -> executor.queued() == 0, "the executor drains");
    assertThat(cas().findMissingBlobs(request).getMissingBlobDigestsCount()).isEqualTo(1);
  }

  @Test
  void batchUpdate_overTheBudget_resourceExhausted_fitsOnceTheBudgetIsFree() throws Exception {
    start(4, 100, 4L << 20);
    var blob = bytes(3_000_000);
    var request = BatchUpdateBlobsRequest.newBuilder();
    request.addRequestsBuilder().setDigest(digest(blob)).setData(ByteString.copyFrom(blob));
    assertThat(executor.tryAcquireBytes(2L << 20)).as("another request holds half").isTrue();
    assertThatThrownBy(() -> cas().batchUpdateBlobs(request.build()))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
        .hasMessageContaining("storage.max_inflight_bytes");
    executor.releaseBytes(2L << 20);
    var answer = cas().batchUpdateBlobs(request.build());
    assertThat(answer.getResponses(0).getStatus().getCode()).isZero();
    // The request's claim goes back when the server sees the call complete, just after the
    // client has its answer.
    await(() -> executor.inflightBytes() == 0, "the batch's claim is returned");
  }

  @Test
  void byteStreamWrite_manyChunksUnderASmallBudget_heldBytesStayWithinTheStreamWindow()
      throws Exception {
    // Room for the writer's buffer, the 4 MiB window and a message in hand; not for 12 MiB.
    start(4, 100, 8L << 20);
    var data = bytes(12 << 20);
    var resource = "uploads/" + UUID.randomUUID() + "/blobs/" + DigestFunction.SHA256.hash(data)
        + "/" + data.length;
    var done = new CompletableFuture<WriteResponse>();
    var stream = ByteStreamGrpc.newStub(channel).write(observer(done));
    for (int off = 0; off < data.length; off += 1 << 20) {
      stream.onNext(WriteRequest.newBuilder().setResourceName(off == 0 ? resource : "")
          .setWriteOffset(off).setFinishWrite(off + (1 << 20) >= data.length)
          .setData(ByteString.copyFrom(data, off, 1 << 20)).build());
    }
    stream.onCompleted();
    assertThat(done.get(30, TimeUnit.SECONDS).getCommittedSize()).isEqualTo(data.length);
    await(() -> executor.inflightBytes() == 0, "the upload's claims are returned");
  }

  @Test
  void byteStreamWrite_abandonedUploads_parkedAreBounded_theirClaimsReturned() throws Exception {
    start(4, 100, 256L << 20);
    for (int i = 0; i < ByteStreamService.MAX_PARKED + 10; i++) {
      var data = bytes(2 << 20);
      var resource = "uploads/" + UUID.randomUUID() + "/blobs/" + DigestFunction.SHA256.hash(data)
          + "/" + data.length;
      var done = new CompletableFuture<WriteResponse>();
      var stream = ByteStreamGrpc.newStub(channel).write(observer(done));
      stream.onNext(WriteRequest.newBuilder().setResourceName(resource)
          .setData(ByteString.copyFrom(data, 0, 64 << 10)).build());
      stream.onCompleted(); // without finish_write: the server parks it and says so
      assertThatThrownBy(() -> done.get(10, TimeUnit.SECONDS))
          .hasMessageContaining("without finish_write");
    }
    assertThat(server.parkedUploads()).isEqualTo(ByteStreamService.MAX_PARKED);
    await(() -> executor.inflightBytes() == ByteStreamService.MAX_PARKED * (1L << 20),
        "only the parked uploads' writer buffers are held");
    // A pushed-out upload's writer closes on the executor's closer thread, just after its claim.
    await(() -> store.stats().openWriters() == ByteStreamService.MAX_PARKED,
        "only the parked uploads' writers are open");
    assertThat(store.stats().disk().uploadingBytes()).isLessThanOrEqualTo(
        ByteStreamService.MAX_PARKED * (64L << 10));
  }

  @Test
  void byteStreamWrite_refusedWhileItsFirstStepOpensTheWriter_writerAndClaimReleased()
      throws Exception {
    // The first message's step is inside newWriter (its 1 MiB and the writer's 1 MiB claimed)
    // when the second message finds the budget full: the call ends RESOURCE_EXHAUSTED while the
    // step has not yet handed over its upload. Once the step returns, the upload must still be
    // parked or discarded (OverloadTest once found 1 open writer and 1 MiB held after the load).
    var entered = new CountDownLatch(1);
    var proceed = new CountDownLatch(1);
    start(4, 100, (5L << 20) / 2, target -> (dev.buckcache.storage.CacheStore) java.lang.reflect.Proxy
        .newProxyInstance(getClass().getClassLoader(),
            new Class<?>[] {dev.buckcache.storage.CacheStore.class}, (proxy, method, args) -> {
              if (method.getName().equals("newWriter")) {
                entered.countDown();
                assertThat(proceed.await(30, TimeUnit.SECONDS)).isTrue();
              }
              try {
                return method.invoke(target, args);
              } catch (java.lang.reflect.InvocationTargetException e) {
                throw e.getCause();
              }
            }));
    var data = bytes(4 << 20);
    var resource = "uploads/" + UUID.randomUUID() + "/blobs/" + DigestFunction.SHA256.hash(data)
        + "/" + data.length;
    var done = new CompletableFuture<WriteResponse>();
    var stream = ByteStreamGrpc.newStub(channel).write(observer(done));
    stream.onNext(WriteRequest.newBuilder().setResourceName(resource)
        .setData(ByteString.copyFrom(data, 0, 1 << 20)).build());
    assertThat(entered.await(10, TimeUnit.SECONDS)).as("the first step opens the writer").isTrue();
    stream.onNext(WriteRequest.newBuilder().setWriteOffset(1 << 20)
        .setData(ByteString.copyFrom(data, 1 << 20, 1 << 20)).build());
    assertThatThrownBy(() -> done.get(10, TimeUnit.SECONDS))
        .satisfies(e -> assertThat(code(e.getCause())).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    proceed.countDown();
    // Parked for resumption, then reaped: nothing stays held.
    await(() -> executor.inflightBytes() == 0, "the upload's claims are returned");
    await(() -> store.stats().openWriters() == 0, "the upload's writer is closed");
  }

  @Test
  void byteStreamRead_cancelledAfterOneChunk_readerAndClaimReleased() throws Exception {
    start(4, 100, 64L << 20);
    var data = bytes(8 << 20);
    var upload = new CompletableFuture<WriteResponse>();
    var resource = "uploads/" + UUID.randomUUID() + "/blobs/" + DigestFunction.SHA256.hash(data)
        + "/" + data.length;
    var stream = ByteStreamGrpc.newStub(channel).write(observer(upload));
    stream.onNext(WriteRequest.newBuilder().setResourceName(resource).setFinishWrite(true)
        .setData(ByteString.copyFrom(data)).build());
    stream.onCompleted();
    upload.get(30, TimeUnit.SECONDS);
    var first = new CountDownLatch(1);
    var ended = new CompletableFuture<Void>();
    ByteStreamGrpc.newStub(channel).read(ReadRequest.newBuilder()
        .setResourceName("blobs/" + DigestFunction.SHA256.hash(data) + "/" + data.length).build(),
        new ClientResponseObserver<ReadRequest, ReadResponse>() {
          private ClientCallStreamObserver<ReadRequest> call;

          @Override
          public void beforeStart(ClientCallStreamObserver<ReadRequest> requestStream) {
            call = requestStream;
            requestStream.disableAutoRequestWithInitial(1);
          }

          @Override
          public void onNext(ReadResponse value) {
            first.countDown();
            call.cancel("enough", null);
          }

          @Override
          public void onError(Throwable t) {
            ended.complete(null);
          }

          @Override
          public void onCompleted() {
            ended.complete(null);
          }
        });
    assertThat(first.await(10, TimeUnit.SECONDS)).isTrue();
    ended.get(10, TimeUnit.SECONDS);
    await(() -> executor.inflightBytes() == 0, "the read's claim is returned");
    await(() -> store.stats().openReaders() == 0, "the cancelled read's reader is closed");
  }

  @Test
  void byteStreamRead_transportFailsToSend_readerAndClaimReleased() throws Exception {
    start(4, 100, 64L << 20);
    var data = bytes(3 << 20);
    store.put(dev.buckcache.digest.Digest.of(DigestFunction.SHA256, data), data);
    // An in-process server whose transport throws on the first chunk, as grpc-java does when
    // writing a message fails (it closes the call CANCELLED and rethrows).
    var name = io.grpc.inprocess.InProcessServerBuilder.generateName();
    var builder = io.grpc.inprocess.InProcessServerBuilder.forName(name);
    for (var service : GrpcFrontEnd.services(store, executor, CacheContractTest.DIGESTS, 4_000_000)) {
      builder.addService(io.grpc.ServerInterceptors.intercept(service, new io.grpc.ServerInterceptor() {
        @Override
        public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call,
            io.grpc.Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
          return next.startCall(new io.grpc.ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
            @Override
            public void sendMessage(R message) {
              call.close(Status.CANCELLED.withDescription("sendMessage() failed"), new io.grpc.Metadata());
              throw new IllegalStateException("the transport refused the message");
            }
          }, headers);
        }
      }));
    }
    var inProcess = builder.build().start();
    var client = io.grpc.inprocess.InProcessChannelBuilder.forName(name).build();
    try {
      var reads = ByteStreamGrpc.newBlockingStub(client).read(ReadRequest.newBuilder()
          .setResourceName("blobs/" + DigestFunction.SHA256.hash(data) + "/" + data.length).build());
      assertThatThrownBy(() -> reads.forEachRemaining(r -> { }))
          .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.CANCELLED));
      await(() -> executor.inflightBytes() == 0, "the read's claim is returned");
      await(() -> store.stats().openReaders() == 0, "the read's reader is closed");
    } finally {
      client.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      inProcess.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static StreamObserver<WriteResponse> observer(CompletableFuture<WriteResponse> done) {
    return new StreamObserver<>() {
      @Override public void onNext(WriteResponse v) {
        done.complete(v);
      }

      @Override public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override public void onCompleted() {}
    };
  }
}
