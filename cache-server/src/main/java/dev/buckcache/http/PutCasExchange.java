package dev.buckcache.http;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.InvalidDigestException;
import dev.buckcache.storage.BlobWriter;
import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.ZstdUpload;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.concurrent.CompletableFuture;

/*
 * Design notes
 *
 * Lane. All storage work of one upload (open the writer, each piece, the commit) runs as one
 * chain of executor tasks, `lane`, which never completes exceptionally: a failure is kept in
 * `failure` and later pieces skip. So the writer is only ever touched by one task at a time,
 * and "after the lane" means after everything that could touch it.
 *
 * Release. Once the upload ends (committed, failed, refused with Busy, or the connection
 * closed), finish() waits for the lane and then closes the writer through
 * StorageExecutor.release (a no-op after a commit) and returns the budget claim. That path never
 * needs a pool thread, so a saturated executor cannot leak a writer's pending seq and bytes.
 * finish() runs once, on the event loop.
 *
 * Memory. Body pieces wait for the disk in the lane: up to PAUSE_AT (4 MiB) plus the piece that
 * crossed it, then socket reads pause. The writer buffers one chunk before it reaches the disk,
 * copies a direct piece to the heap (one piece), and a zstd upload adds the decoder's output
 * buffer. An upload claims that window from the in-flight budget when the head arrives (each
 * term capped by what the body can be); a window that does not fit is answered 503 with
 * Retry-After before the body is read.
 */

/**
 * {@code PUT /cas/HASH}: streams the body into a verifying writer on the storage executor, one
 * piece after another, never holding the whole body. Socket reads pause while more than 4 MiB
 * wait for the disk and resume below 1 MiB. Nothing is stored unless every byte arrived and the
 * hash and size match.
 */
final class PutCasExchange extends Exchange {
  private static final long PAUSE_AT = 4L << 20;
  private static final long RESUME_AT = 1L << 20;
  /** What may wait for the disk: up to PAUSE_AT, plus the piece that crossed it. */
  private static final long QUEUE_WINDOW = PAUSE_AT + HttpInitializer.MAX_CHUNK;

  private final CachePath path;
  /** Set by the lane's first task; read by later tasks and after the lane (ordered by it). */
  private BlobWriter writer;
  private CompletableFuture<Void> lane;
  private volatile Throwable failure;
  private volatile boolean aborted;
  private BodyClaim claim = BodyClaim.NONE;
  private boolean finished;
  private long queuedBytes;
  private boolean paused;

  PutCasExchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, CachePath path) {
    super(handler, ctx, request, deps);
    this.path = path;
  }

  @Override
  void begin() {
    Digest digest;
    boolean zstd;
    long length;
    try {
      zstd = Uploads.isZstd(request);
      length = Uploads.contentLength(request);
      long size = Uploads.declaredSize(request, zstd);
      Uploads.checkLimit(size, deps.maxBlobSize());
      digest = new Digest(path.function(), path.hash(), size);
    } catch (Uploads.Rejected e) {
      respondText(e.status, e.getMessage());
      return;
    } catch (InvalidDigestException e) {
      respondError(e);
      return;
    }
    long window = Math.min(length, QUEUE_WINDOW)
        + Math.min(length, HttpInitializer.MAX_CHUNK) // the writer's copy of a direct piece
        + Math.min(digest.size(), deps.store().writeBufferBytes())
        + (zstd ? ZstdUpload.OUTPUT_BUFFER : 0);
    var claimed = claimOrRefuse(window);
    if (claimed == null) {
      return;
    }
    claim = claimed;
    continueIfExpected();
    var opened = deps.executor().<Void>submit(() -> {
      var w = deps.store().newWriter(digest);
      writer = zstd ? new ZstdUpload(w) : w;
      return null;
    });
    lane = opened.exceptionally(e -> {
      failure = e;
      return null;
    });
    if (requestComplete()) { // Content-Length: 0, no body follows
      commit();
    } else {
      onLoop(opened, (v, e) -> answerEarly(e));
    }
  }

  /**
   * The executor refused to open the writer (Busy): answer 503 now, not after the whole body.
   * Other failures (store full) are answered once the body is in, as before, so the client
   * reads the answer on a connection that stays usable.
   */
  private void answerEarly(Throwable e) {
    if (HttpErrors.unwrap(e) instanceof StorageException.Busy && !finished && !responded()) {
      finish();
      respondError(e);
    }
  }

  /** Also while socket reads are paused for the disk: then the client waits on us too. */
  @Override
  boolean waitingOnServer() {
    return super.waitingOnServer() || (paused && !responded());
  }

  @Override
  void onContent(HttpContent content) {
    if (lane == null || finished) { // refused, or already answered: drop the body
      super.onContent(content);
      return;
    }
    boolean last = content instanceof LastHttpContent;
    int n = content.content().readableBytes();
    if (n > 0 && failure == null) {
      enqueue(content, n);
    } else {
      content.release();
    }
    if (last) {
      markRequestComplete();
      commit();
    }
  }

  private void enqueue(HttpContent content, int n) {
    queuedBytes += n;
    if (queuedBytes > PAUSE_AT && !paused) {
      paused = true;
      ctx.channel().config().setAutoRead(false);
    }
    lane = lane.thenCompose(v -> deps.executor().<Void>submitNext(() -> {
      try {
        if (failure == null && !aborted) {
          writer.write(content.content().nioBuffer());
        }
      } catch (RuntimeException e) {
        failure = e;
      } finally {
        content.release();
      }
      return null;
    }).exceptionally(e -> { // the executor refused the task: it never ran
      failure = e;
      content.release();
      return null;
    }));
    var unused = lane.whenComplete((v, e) -> ctx.executor().execute(() -> drained(n)));
  }

  /** Body bytes handed to the storage executor and not yet written (event loop only). */
  long queuedBytes() {
    return queuedBytes;
  }

  private void drained(int n) {
    queuedBytes -= n;
    if (paused && queuedBytes < RESUME_AT && !requestComplete()) {
      paused = false;
      ctx.channel().config().setAutoRead(true);
    }
  }

  private void commit() {
    var done = lane.thenCompose(v -> deps.executor().<Void>submitNext(() -> {
      var problem = failure;
      if (problem != null) {
        throw problem instanceof RuntimeException re ? re : new StorageException.Failure(
            HttpErrors.message(problem), problem);
      }
      writer.commit();
      return null;
    }));
    lane = done.handle((v, e) -> null);
    finish(); // also when the commit was refused (Busy): the writer is closed all the same
    onLoop(done, (v, e) -> {
      if (e != null) {
        respondError(e);
      } else {
        respondText(HttpResponseStatus.OK, "stored");
      }
    });
  }

  /** After the lane: closes the writer (a no-op once committed) and returns the claim. */
  private void finish() {
    if (finished) {
      return;
    }
    finished = true;
    var unused = lane.whenComplete((v, e) -> {
      var w = writer;
      if (w != null) {
        deps.executor().release(w);
      }
      claim.release();
    });
  }

  @Override
  void abort() {
    aborted = true;
    if (lane != null) {
      finish();
    }
  }

  /** Header checks shared by CAS and AC uploads. */
  static final class Uploads {
    private Uploads() {}

    static final class Rejected extends Exception {
      final HttpResponseStatus status;

      Rejected(HttpResponseStatus status, String message) {
        super(message, null, false, false);
        this.status = status;
      }
    }

    static boolean isZstd(HttpRequest request) throws Rejected {
      var encoding = request.headers().get(HttpHeaderNames.CONTENT_ENCODING);
      if (encoding == null || encoding.equalsIgnoreCase("identity")) {
        return false;
      }
      if (encoding.equalsIgnoreCase("zstd")) {
        return true;
      }
      throw new Rejected(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
          "Content-Encoding '" + encoding + "' is not supported (use zstd or none)");
    }

    static long contentLength(HttpRequest request) throws Rejected {
      long length = HttpUtil.getContentLength(request, -1L);
      if (length < 0) {
        throw new Rejected(HttpResponseStatus.LENGTH_REQUIRED,
            "PUT needs a Content-Length header (chunked uploads are not accepted)");
      }
      return length;
    }

    /** The blob's size: Content-Length, or X-Digest-SizeBytes for a compressed body. */
    static long declaredSize(HttpRequest request, boolean zstd) throws Rejected {
      long length = contentLength(request);
      if (!zstd) {
        return length;
      }
      var header = request.headers().get("X-Digest-SizeBytes");
      try {
        long size = Long.parseLong(header == null ? "" : header.trim());
        if (size >= 0) {
          return size;
        }
      } catch (NumberFormatException e) {
        // fall through
      }
      throw new Rejected(HttpResponseStatus.BAD_REQUEST,
          "a zstd PUT needs X-Digest-SizeBytes: the uncompressed size in bytes");
    }

    static void checkLimit(long size, long limit) throws Rejected {
      checkLimit(size, limit, "max_blob_size");
    }

    static void checkLimit(long size, long limit, String which) throws Rejected {
      if (size > limit) {
        throw new Rejected(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
            "body of " + size + " bytes is over the " + limit + "-byte limit (" + which + ")");
      }
    }
  }
}
