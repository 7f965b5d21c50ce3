package dev.buckcache.grpc;

import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.QueryWriteStatusResponse;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.UnsafeByteOperations;
import dev.buckcache.auth.Access;
import dev.buckcache.digest.Digest;
import dev.buckcache.storage.BlobReader;
import dev.buckcache.storage.BlobWriter;
import dev.buckcache.storage.StoredChunk;
import dev.buckcache.storage.TieredStore;
import dev.buckcache.storage.ZstdFrames;
import dev.buckcache.storage.ZstdUpload;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Large blobs. Reads stream one stored chunk per message (1 MiB raw, far under Buck2's decode
 * limit) and only while the client is ready. Writes are checked offset by offset; a stream that
 * breaks leaves its upload parked for a minute so the client can resume it (QueryWriteStatus,
 * then Write from the committed offset).
 */
final class ByteStreamService extends ByteStreamGrpc.ByteStreamImplBase implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ByteStreamService.class);
  private static final Duration PARK_TIME = Duration.ofSeconds(60);

  private final TieredStore store;
  private final Digests digests;
  private final ConcurrentHashMap<String, Upload> parked = new ConcurrentHashMap<>();
  private final ScheduledExecutorService reaper = Executors.newSingleThreadScheduledExecutor(r -> {
    var t = new Thread(r, "buckcache-upload-reaper");
    t.setDaemon(true);
    return t;
  });

  ByteStreamService(TieredStore store, Digests digests) {
    this.store = store;
    this.digests = digests;
  }

  private Digest digestOf(ResourceName name) {
    var fn = digests.function(name.instance(), build.bazel.remote.execution.v2.DigestFunction.Value.UNKNOWN, name.hash());
    return Digests.of(fn, build.bazel.remote.execution.v2.Digest.newBuilder()
        .setHash(name.hash()).setSizeBytes(name.size()).build());
  }

  // ------------------------------------------------------------------------------------ read

  @Override
  public void read(ReadRequest request, StreamObserver<ReadResponse> observer) {
    var call = (ServerCallStreamObserver<ReadResponse>) observer;
    try {
      var name = ResourceName.parseRead(request.getResourceName());
      Callers.require(Access.READ, name.instance());
      var digest = digestOf(name);
      long offset = request.getReadOffset();
      if (offset < 0 || offset > digest.size()) {
        throw Status.OUT_OF_RANGE.withDescription("read_offset " + offset + " is outside blob "
            + digest + " (0.." + digest.size() + ")").asRuntimeException();
      }
      if (request.getReadLimit() < 0) {
        throw Status.OUT_OF_RANGE.withDescription("read_limit must not be negative").asRuntimeException();
      }
      if (name.compressed() && offset != 0) {
        throw GrpcErrors.invalid("compressed reads start at offset 0");
      }
      var reader = store.open(digest, offset);
      if (reader.isEmpty()) {
        throw Status.NOT_FOUND.withDescription("blob " + digest + " not found").asRuntimeException();
      }
      var pump = new ReadPump(call, reader.get(), name.compressed(), request.getReadLimit());
      call.setOnCancelHandler(pump::close);
      call.setOnReadyHandler(pump::drain);
      pump.drain();
    } catch (RuntimeException e) {
      call.onError(GrpcErrors.exception(e));
    }
  }

  /** Sends chunks while the client can take them; runs on the call's serialized executor. */
  private static final class ReadPump {
    private final ServerCallStreamObserver<ReadResponse> call;
    private final BlobReader reader;
    private final boolean compressed;
    private long remaining;
    private boolean done;

    ReadPump(ServerCallStreamObserver<ReadResponse> call, BlobReader reader, boolean compressed,
        long limit) {
      this.call = call;
      this.reader = reader;
      this.compressed = compressed;
      this.remaining = limit == 0 ? Long.MAX_VALUE : limit;
    }

    synchronized void drain() {
      try {
        while (!done && call.isReady()) {
          var bytes = next();
          if (bytes == null) {
            done = true;
            reader.close();
            call.onCompleted();
            return;
          }
          // The array is ours and never changes: wrap it instead of copying 1 MiB per message.
          call.onNext(ReadResponse.newBuilder().setData(UnsafeByteOperations.unsafeWrap(bytes)).build());
        }
      } catch (RuntimeException e) {
        close();
        call.onError(GrpcErrors.exception(e));
      }
    }

    private byte[] next() {
      if (remaining <= 0) {
        return null;
      }
      byte[] bytes;
      if (compressed) {
        StoredChunk chunk = reader.nextStored();
        bytes = chunk == null ? null
            : chunk.encoding() == StoredChunk.Encoding.ZSTD ? chunk.bytes() : ZstdFrames.rawFrame(chunk.bytes());
      } else {
        bytes = reader.nextRaw();
      }
      if (bytes != null && bytes.length > remaining) {
        bytes = Arrays.copyOf(bytes, (int) remaining);
      }
      if (bytes != null) {
        remaining -= bytes.length;
      }
      return bytes;
    }

    synchronized void close() {
      if (!done) {
        done = true;
        reader.close();
      }
    }
  }

  // ------------------------------------------------------------------------------------ write

  /** An upload in progress: its writer and how many (possibly compressed) bytes it accepted. */
  private static final class Upload {
    final String resource;
    final BlobWriter writer;
    long committed;

    Upload(String resource, BlobWriter writer) {
      this.resource = resource;
      this.writer = writer;
    }
  }

  @Override
  public StreamObserver<WriteRequest> write(StreamObserver<WriteResponse> response) {
    return new StreamObserver<>() {
      private Upload upload;
      private boolean finished;

      @Override
      public void onNext(WriteRequest request) {
        if (finished) {
          return;
        }
        try {
          if (upload == null) {
            upload = start(request);
          } else if (!request.getResourceName().isEmpty()
              && !request.getResourceName().equals(upload.resource)) {
            throw GrpcErrors.invalid("resource_name changed within one Write");
          }
          if (request.getWriteOffset() != upload.committed) {
            throw GrpcErrors.invalid("write_offset " + request.getWriteOffset()
                + " is not the committed size " + upload.committed);
          }
          upload.writer.write(request.getData().asReadOnlyByteBuffer());
          upload.committed += request.getData().size();
          if (request.getFinishWrite()) {
            finished = true;
            upload.writer.commit();
            response.onNext(WriteResponse.newBuilder().setCommittedSize(upload.committed).build());
            response.onCompleted();
          }
        } catch (RuntimeException e) {
          finished = true;
          if (upload != null) {
            upload.writer.close();
          }
          response.onError(GrpcErrors.exception(e));
        }
      }

      @Override
      public void onError(Throwable t) {
        if (!finished && upload != null) {
          park(upload); // the client may resume from upload.committed
        }
        finished = true;
      }

      @Override
      public void onCompleted() {
        if (!finished) {
          finished = true;
          if (upload != null) {
            park(upload);
          }
          response.onError(GrpcErrors.invalid("Write stream ended without finish_write"));
        }
      }
    };
  }

  private Upload start(WriteRequest first) {
    var resource = first.getResourceName();
    var name = ResourceName.parseWrite(resource);
    Callers.require(Access.WRITE_CAS, name.instance());
    var resumed = parked.remove(resource);
    if (resumed != null) {
      if (first.getWriteOffset() == resumed.committed) {
        return resumed;
      }
      resumed.writer.close();
    }
    if (first.getWriteOffset() != 0) {
      throw GrpcErrors.invalid("write_offset " + first.getWriteOffset() + " for " + resource
          + ": no upload to resume (query its status, or start at 0)");
    }
    var writer = store.newWriter(digestOf(name));
    return new Upload(resource, name.compressed() ? new ZstdUpload(writer) : writer);
  }

  private void park(Upload upload) {
    var previous = parked.put(upload.resource, upload);
    if (previous != null && previous != upload) {
      previous.writer.close();
    }
    var unused = reaper.schedule(() -> { // nothing waits for the reaping
      if (parked.remove(upload.resource, upload)) {
        log.debug("abandoned upload {} after {} bytes", upload.resource, upload.committed);
        upload.writer.close();
      }
    }, PARK_TIME.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void queryWriteStatus(QueryWriteStatusRequest request,
      StreamObserver<QueryWriteStatusResponse> response) {
    try {
      var resource = request.getResourceName();
      var name = ResourceName.parseWrite(resource);
      Callers.require(Access.READ, name.instance());
      var upload = parked.get(resource);
      var status = QueryWriteStatusResponse.newBuilder();
      if (upload != null) {
        status.setCommittedSize(upload.committed);
      } else if (store.contains(digestOf(name))) {
        status.setCommittedSize(name.compressed() ? -1 : name.size()).setComplete(true);
      }
      response.onNext(status.build());
      response.onCompleted();
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.exception(e));
    }
  }

  @Override
  public void close() {
    reaper.shutdownNow();
    parked.values().forEach(u -> u.writer.close());
    parked.clear();
  }
}
