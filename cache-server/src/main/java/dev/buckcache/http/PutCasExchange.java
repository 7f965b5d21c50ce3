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

/**
 * {@code PUT /cas/HASH}: streams the body into a verifying writer on the storage executor, one
 * piece after another, never holding the whole body. Socket reads pause while more than 4 MiB
 * wait for the disk and resume below 1 MiB. Nothing is stored unless every byte arrived and the
 * hash and size match.
 */
final class PutCasExchange extends Exchange {
  private static final long PAUSE_AT = 4L << 20;
  private static final long RESUME_AT = 1L << 20;

  private final CachePath path;
  private BlobWriter writer;
  private CompletableFuture<Void> lane;
  private volatile Throwable failure;
  private volatile boolean aborted;
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
    try {
      zstd = Uploads.isZstd(request);
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
    continueIfExpected();
    lane = deps.executor().<Void>submit(() -> {
      var w = deps.store().newWriter(digest);
      writer = zstd ? new ZstdUpload(w) : w;
      return null;
    });
    lane = lane.exceptionally(e -> {
      failure = e;
      return null;
    });
    if (requestComplete()) { // Content-Length: 0, no body follows
      commit();
    }
  }

  @Override
  void onContent(HttpContent content) {
    if (lane == null) { // rejected in begin(): drop the body
      super.onContent(content);
      return;
    }
    boolean last = content instanceof LastHttpContent;
    int n = content.content().readableBytes();
    if (n > 0) {
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
    lane = lane.thenCompose(v -> deps.executor().<Void>submit(() -> {
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

  private void drained(int n) {
    queuedBytes -= n;
    if (paused && queuedBytes < RESUME_AT && !requestComplete()) {
      paused = false;
      ctx.channel().config().setAutoRead(true);
    }
  }

  private void commit() {
    var done = lane.thenCompose(v -> deps.executor().<Void>submit(() -> {
      var problem = failure;
      if (problem != null) {
        closeWriter();
        throw problem instanceof RuntimeException re ? re : new StorageException.Failure(
            HttpErrors.message(problem), problem);
      }
      writer.commit();
      return null;
    }));
    onLoop(done, (v, e) -> {
      if (e != null) {
        respondError(e);
      } else {
        respondText(HttpResponseStatus.OK, "stored");
      }
    });
  }

  private void closeWriter() {
    if (writer != null) {
      writer.close();
    }
  }

  @Override
  void abort() {
    aborted = true;
    if (lane != null) {
      var unused = lane.whenComplete((v, e) -> deps.executor().submit(() -> {
        closeWriter();
        return null;
      }).exceptionally(refused -> {
        if (refused instanceof StorageException.Busy) { // close here rather than leak the writer
          closeWriter();
        }
        return null;
      }));
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
      if (size > limit) {
        throw new Rejected(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
            "body of " + size + " bytes is over the " + limit + "-byte limit (max_blob_size)");
      }
    }
  }
}
