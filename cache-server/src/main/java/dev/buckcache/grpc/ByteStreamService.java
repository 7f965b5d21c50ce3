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
import dev.buckcache.storage.CacheStore;
import dev.buckcache.storage.ZstdUpload;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Large blobs. Reads stream one stored chunk per message (1 MiB raw, far under Buck2's decode
 * limit) and only while the client is ready. Writes are checked offset by offset; a stream that
 * breaks leaves its upload parked for {@link #PARK_TIME} so the client can resume it
 * (QueryWriteStatus, then Write from the committed offset).
 *
 * <p>Design notes. The service runs on grpc-java's event loop; every store access goes through
 * {@link Offload} to the bounded storage executor. A read holds one chunk's worth of the
 * in-flight budget for its whole life and has at most one chunk read ahead; the next read starts
 * when the last chunk was handed to the transport and the client is ready. A write uses manual
 * flow control: the next message is asked for only while less than 4 MiB of the stream wait for
 * the disk, so a Write stream holds at most that plus one message, and its writer's chunk buffer,
 * which is claimed for as long as the upload lives (parked included). Each pump or stream is a small state machine under its own
 * lock, because transport events (ready, cancel, half-close) arrive on the event loop while a
 * storage step runs on the executor; whichever side sees the end last releases the reader or
 * writer, through {@link Offload#release}, so a release never waits for executor capacity.
 */
final class ByteStreamService extends ByteStreamGrpc.ByteStreamImplBase implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ByteStreamService.class);
  /**
   * How long a broken upload waits for its client to resume it: Bazel's retries (5, backing off
   * from 100 ms) resume within about 3 s.
   */
  static final Duration PARK_TIME = Duration.ofSeconds(5);
  /** Parked uploads kept at most; a newer one pushes out the oldest. */
  static final int MAX_PARKED = 16;
  private static final long CHUNK = 1 << 20;
  /** Bytes of one Write that may wait for the disk before the next message is asked for. */
  private static final long WINDOW = 4L << 20;

  private final CacheStore store;
  private final Digests digests;
  private final Offload offload;
  private final java.util.LinkedHashMap<String, Upload> parked = new java.util.LinkedHashMap<>();
  private final ScheduledExecutorService reaper = Executors.newSingleThreadScheduledExecutor(r -> {
    var t = new Thread(r, "buckcache-upload-reaper");
    t.setDaemon(true);
    return t;
  });

  ByteStreamService(CacheStore store, Digests digests, Offload offload) {
    this.store = store;
    this.digests = digests;
    this.offload = offload;
  }

  private Digest digestOf(ResourceName name) {
    var fn = digests.function(name.instance(), build.bazel.remote.execution.v2.DigestFunction.Value.UNKNOWN, name.hash());
    return Digests.of(fn, build.bazel.remote.execution.v2.Digest.newBuilder()
        .setHash(name.hash()).setSizeBytes(name.size()).build());
  }

  /** Uploads parked now, for the gauge. */
  synchronized int parkedUploads() {
    return parked.size();
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
      // A chunk sent and the next one read meanwhile (see ReadPump.start): two chunks at most.
      long claim = 2 * Math.max(1, Math.min(digest.size(), CHUNK));
      if (!offload.claim(claim)) {
        throw offload.overBudget(claim);
      }
      new ReadPump(call, name.compressed(), request.getReadLimit(), claim).start(digest, offset);
    } catch (RuntimeException e) {
      call.onError(GrpcErrors.exception(e));
    }
  }

  /** Sends chunks while the client can take them, reading each on the storage executor. */
  private final class ReadPump {
    private final ServerCallStreamObserver<ReadResponse> call;
    private final boolean compressed;
    private final long claim;
    private long remaining;
    private BlobReader reader;
    private boolean reading;
    private boolean done;
    private boolean released;

    ReadPump(ServerCallStreamObserver<ReadResponse> call, boolean compressed, long limit,
        long claim) {
      this.call = call;
      this.compressed = compressed;
      this.claim = claim;
      this.remaining = limit == 0 ? Long.MAX_VALUE : limit;
    }

    void start(Digest digest, long offset) {
      // Ready while less than a chunk waits in the transport (grpc-java's default is 32 KiB): the
      // next chunk is read while the last is written, not after it has all gone.
      call.setOnReadyThreshold((int) CHUNK + 64);
      call.setOnCancelHandler(this::cancel);
      call.setOnReadyHandler(this::drain);
      synchronized (this) {
        reading = true;
      }
      var unused = offload.run(0, () -> store.open(digest, offset)).whenComplete((opened, e) -> {
        synchronized (this) {
          reading = false;
          reader = opened == null ? null : opened.orElse(null);
          if (done || e != null || reader == null) {
            endLocked(e != null ? GrpcErrors.exception(e) : reader == null && !done
                ? Status.NOT_FOUND.withDescription("blob " + digest + " not found").asRuntimeException()
                : null);
            return;
          }
        }
        drain();
      });
    }

    void drain() {
      synchronized (this) {
        if (done || reading || reader == null || !call.isReady()) {
          return;
        }
        reading = true;
      }
      var unused = offload.next(this::next).whenComplete(this::sent);
    }

    private void sent(byte[] bytes, Throwable error) {
      synchronized (this) {
        reading = false;
        if (done || error != null) {
          endLocked(error == null ? null : GrpcErrors.exception(error));
          return;
        }
        try {
          if (bytes == null) {
            endLocked(null);
            call.onCompleted();
            return;
          }
          // The array is ours and never changes: wrap it instead of copying 1 MiB per message.
          call.onNext(ReadResponse.newBuilder().setData(UnsafeByteOperations.unsafeWrap(bytes)).build());
        } catch (RuntimeException | Error e) {
          // The transport could not take it (grpc-java has closed the call, e.g. CANCELLED
          // "sendMessage() failed"): the pump ends here, or its reader and claim would leak.
          log.warn("a ByteStream read ended: sending a chunk failed: {}", e.toString());
          endLocked(null);
          return;
        }
      }
      drain();
    }

    private byte[] next() {
      if (remaining <= 0) {
        return null;
      }
      byte[] bytes;
      if (compressed) {
        StoredChunk chunk = reader.nextStored();
        bytes = chunk == null ? null : chunk.zstdFrame();
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

    private synchronized void cancel() {
      if (!reading) {
        endLocked(null);
      }
      done = true; // a read in progress sees this and ends the pump
    }

    /** Ends the pump once: releases the reader and the claim, and reports {@code error}. */
    private void endLocked(RuntimeException error) {
      boolean first = !done;
      done = true;
      if (!released) {
        released = true;
        if (reader != null) {
          offload.release(reader);
        }
        offload.release(claim);
      }
      if (first && error != null) {
        try {
          call.onError(error);
        } catch (RuntimeException alreadyClosed) { // the transport ended the call first
          log.debug("a ByteStream read's call was already closed: {}", alreadyClosed.toString());
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------ write

  /** An upload in progress: its writer, its claim, and how many bytes it accepted. */
  private final class Upload {
    final String resource;
    final BlobWriter writer;
    final long claim;
    long committed;
    private boolean ended;

    Upload(String resource, BlobWriter writer, long claim) {
      this.resource = resource;
      this.writer = writer;
      this.claim = claim;
    }

    /** Discards the upload (a no-op for its writer once committed) and returns its claim. */
    synchronized void end() {
      if (!ended) {
        ended = true;
        offload.release(writer);
        offload.release(claim);
      }
    }
  }

  @Override
  public StreamObserver<WriteRequest> write(StreamObserver<WriteResponse> observer) {
    var response = (ServerCallStreamObserver<WriteResponse>) observer;
    response.disableAutoRequest();
    response.setOnCancelHandler(() -> {});
    response.request(1);
    return new WriteStream(response);
  }

  /**
   * One Write call. Messages go into the writer in order, one storage step after another (a
   * lane of chained futures); the next message is asked for while less than {@link #WINDOW}
   * bytes wait for the disk, so a stream pipelines like an HTTP upload but never holds more.
   * Client events that arrive while steps are queued take effect when the lane is empty.
   */
  private final class WriteStream implements StreamObserver<WriteRequest> {
    private final ServerCallStreamObserver<WriteResponse> response;
    private CompletableFuture<Void> lane = CompletableFuture.completedFuture(null);
    private Upload upload;
    private long queuedBytes;
    private int queued;
    private boolean waiting;
    private boolean finished;
    private boolean cancelled;
    private boolean halfClosed;
    /** Set when the call failed while steps were queued: what the last one does with the upload. */
    private Boolean parkWhenIdle;

    WriteStream(ServerCallStreamObserver<WriteResponse> response) {
      this.response = response;
    }

    @Override
    public void onNext(WriteRequest request) {
      long n = request.getData().size();
      synchronized (this) {
        if (finished) {
          return;
        }
        if (!offload.claim(n)) {
          fail(GrpcErrors.exception(offload.overBudget(n)), true);
          return;
        }
        queuedBytes += n;
        queued++;
        lane = lane.thenCompose(v -> stepAsync(request, n));
        if (queuedBytes < WINDOW) {
          response.request(1);
        } else {
          waiting = true;
        }
      }
    }

    private CompletableFuture<Void> stepAsync(WriteRequest request, long n) {
      boolean skip;
      boolean first;
      synchronized (this) {
        skip = finished;
        first = upload == null;
      }
      // The step that opens the upload is admitted like any new work; the rest run ahead.
      var step = skip ? CompletableFuture.<Void>completedFuture(null)
          : first ? offload.run(0, () -> step(request)) : offload.next(() -> step(request));
      return step.handle((v, e) -> {
        stepped(n, e);
        return null;
      });
    }

    /** On the storage executor: one message into the upload. */
    private Void step(WriteRequest request) {
      Upload u;
      synchronized (this) {
        u = upload;
      }
      if (u == null) {
        u = start(request);
        synchronized (this) {
          upload = u;
        }
      } else if (!request.getResourceName().isEmpty()
          && !request.getResourceName().equals(u.resource)) {
        throw GrpcErrors.invalid("resource_name changed within one Write");
      }
      if (request.getWriteOffset() != u.committed) {
        throw GrpcErrors.invalid("write_offset " + request.getWriteOffset()
            + " is not the committed size " + u.committed);
      }
      u.writer.write(request.getData().asReadOnlyByteBuffer());
      u.committed += request.getData().size();
      if (request.getFinishWrite()) {
        u.writer.commit();
        u.end();
        synchronized (this) {
          finished = true;
        }
        response.onNext(WriteResponse.newBuilder().setCommittedSize(u.committed).build());
        response.onCompleted();
      }
      return null;
    }

    private void stepped(long claimed, Throwable error) {
      offload.release(claimed);
      synchronized (this) {
        queuedBytes -= claimed;
        queued--;
        if (finished) {
          if (queued == 0 && parkWhenIdle != null) {
            settle(parkWhenIdle);
          }
          return;
        }
        if (error != null) {
          fail(GrpcErrors.exception(error), GrpcErrors.status(error).getCode()
              == Status.Code.RESOURCE_EXHAUSTED);
          return;
        }
        if (queued == 0 && (cancelled || halfClosed)) {
          clientEnded();
          return;
        }
        if (waiting && queuedBytes < WINDOW / 4) {
          waiting = false;
          response.request(1);
        }
      }
    }

    /**
     * Ends the call with {@code error}; a resumable upload is parked, any other discarded. While a
     * step still runs (it may be opening the upload) that waits until the last step is done.
     */
    private void fail(RuntimeException error, boolean resumable) {
      finished = true;
      if (queued == 0) {
        settle(resumable);
      } else {
        parkWhenIdle = resumable;
      }
      response.onError(error);
    }

    private void settle(boolean resumable) {
      parkWhenIdle = null;
      if (upload != null) {
        if (resumable) {
          park(upload);
        } else {
          upload.end();
        }
      }
    }

    @Override
    public synchronized void onError(Throwable t) {
      cancelled = true;
      if (queued == 0 && !finished) {
        clientEnded();
      }
    }

    @Override
    public synchronized void onCompleted() {
      halfClosed = true;
      if (queued == 0 && !finished) {
        clientEnded();
      }
    }

    /** The client cancelled or half-closed without finish_write: the upload may resume later. */
    private void clientEnded() {
      finished = true;
      if (upload != null) {
        park(upload);
      }
      if (halfClosed && !cancelled) {
        response.onError(GrpcErrors.invalid("Write stream ended without finish_write"));
      }
    }
  }

  /** On the storage executor: the upload a Write names, resumed or new. */
  private Upload start(WriteRequest first) {
    var resource = first.getResourceName();
    var name = ResourceName.parseWrite(resource);
    Callers.require(Access.WRITE_CAS, name.instance());
    Upload resumed;
    synchronized (this) {
      resumed = parked.remove(resource);
    }
    if (resumed != null) {
      if (first.getWriteOffset() == resumed.committed) {
        return resumed;
      }
      resumed.end();
    }
    if (first.getWriteOffset() != 0) {
      throw GrpcErrors.invalid("write_offset " + first.getWriteOffset() + " for " + resource
          + ": no upload to resume (query its status, or start at 0)");
    }
    // The writer buffers up to one chunk until the blob is done: that is claimed for its life.
    long claim = Math.min(name.size(), CHUNK);
    if (!offload.claim(claim)) {
      throw offload.overBudget(claim);
    }
    try {
      var writer = store.newWriter(digestOf(name));
      return new Upload(resource, name.compressed() ? new ZstdUpload(writer) : writer, claim);
    } catch (RuntimeException e) {
      offload.release(claim);
      throw e;
    }
  }

  private void park(Upload upload) {
    var dropped = new java.util.ArrayList<Upload>();
    synchronized (this) {
      var previous = parked.put(upload.resource, upload);
      if (previous != null && previous != upload) {
        dropped.add(previous);
      }
      var oldest = parked.values().iterator();
      while (parked.size() > MAX_PARKED) {
        dropped.add(oldest.next());
        oldest.remove();
      }
    }
    dropped.forEach(Upload::end);
    var unused = reaper.schedule(() -> { // nothing waits for the reaping
      boolean removed;
      synchronized (this) {
        removed = parked.remove(upload.resource, upload);
      }
      if (removed) {
        log.debug("abandoned upload {} after {} bytes", upload.resource, upload.committed);
        upload.end();
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
      Upload upload;
      synchronized (this) {
        upload = parked.get(resource);
      }
      var status = QueryWriteStatusResponse.newBuilder();
      if (upload != null) {
        response.onNext(status.setCommittedSize(upload.committed).build());
        response.onCompleted();
        return;
      }
      offload.unary(response, 0, () -> store.contains(digestOf(name))
          ? status.setCommittedSize(name.compressed() ? -1 : name.size()).setComplete(true).build()
          : status.build());
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.exception(e));
    }
  }

  @Override
  public void close() {
    reaper.shutdownNow();
    java.util.List<Upload> all;
    synchronized (this) {
      all = new java.util.ArrayList<>(parked.values());
      parked.clear();
    }
    all.forEach(Upload::end);
  }
}
