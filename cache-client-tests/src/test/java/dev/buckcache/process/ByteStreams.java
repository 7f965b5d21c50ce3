package dev.buckcache.process;

import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** ByteStream uploads and downloads the way Buck2 names them, for tests in several packages. */
public final class ByteStreams {
  private ByteStreams() {}

  /**
   * Uploads under {@code uploads/UUID/blobs/HASH/SIZE} in {@code message}-byte messages, pausing
   * {@code pauseMillis} after each (0: none); the committed size.
   */
  public static long write(ManagedChannel channel, String hash, byte[] bytes, int message,
      long pauseMillis) throws Exception {
    var resource = "uploads/" + UUID.randomUUID() + "/blobs/" + hash + "/" + bytes.length;
    var done = new CompletableFuture<WriteResponse>();
    var stream = ByteStreamGrpc.newStub(channel).write(new StreamObserver<>() {
      @Override
      public void onNext(WriteResponse v) {
        done.complete(v);
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    for (int off = 0; off < bytes.length && !done.isDone(); off += message) {
      int n = Math.min(message, bytes.length - off);
      stream.onNext(WriteRequest.newBuilder().setResourceName(off == 0 ? resource : "")
          .setWriteOffset(off).setFinishWrite(off + n == bytes.length)
          .setData(ByteString.copyFrom(bytes, off, n)).build());
      if (pauseMillis > 0) {
        Thread.sleep(pauseMillis);
      }
    }
    stream.onCompleted();
    return done.get(120, TimeUnit.SECONDS).getCommittedSize();
  }

  /** Reads {@code blobs/HASH/SIZE} whole. */
  public static byte[] read(ManagedChannel channel, String hash, long size) {
    var out = new ByteArrayOutputStream();
    ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
        .setResourceName("blobs/" + hash + "/" + size).build())
        .forEachRemaining(r -> out.writeBytes(r.getData().toByteArray()));
    return out.toByteArray();
  }
}
