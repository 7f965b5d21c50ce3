package dev.buckcache.http;

import com.google.protobuf.util.JsonFormat;
import dev.buckcache.storage.AcEntry;
import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.ActionResults;
import dev.buckcache.storage.BlobReader;
import dev.buckcache.storage.StoredChunk;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GET and HEAD of {@code /ac/} and {@code /cas/}. Memory-tier hits are answered on the event loop;
 * everything else reads on the storage executor. Blobs over one chunk stream one chunk at a time,
 * the next read starting while the last chunk is written.
 *
 * <p>Memory. A memory-tier hit sends bytes the memory tier already holds. A blob read from disk
 * lands in pooled direct buffers (one copy out of RocksDB, none on the way to the socket) and is
 * held there until the socket takes it, so it claims its bytes from the in-flight budget
 * ({@code storage.max_inflight_bytes}) when it is opened, or is answered 503 with Retry-After: a
 * small blob its size, a streamed one two pieces, since a stream holds at most two (one being
 * written and one read ahead, or two being written). Without the claim a crowd of slow readers
 * filled a 256 MiB heap with queued chunks (OverloadTest: back-to-back full GCs, no answers).
 */
final class GetExchange extends Exchange {
  private static final Logger log = LoggerFactory.getLogger(GetExchange.class);
  private static final int WHOLE_LIMIT = 1 << 20;

  private final CachePath path;
  private final boolean head;
  private final boolean zstd;
  private BlobReader reader;
  private BodyClaim claim = BodyClaim.NONE;
  /** Pieces handed to the channel and not yet written (event loop only). */
  private int writing;
  private boolean reading;
  /** Set on the event loop, read by the storage executor. */
  private volatile boolean aborted;

  GetExchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, CachePath path) {
    super(handler, ctx, request, deps);
    this.path = path;
    this.head = request.method().equals(HttpMethod.HEAD);
    var accept = request.headers().get(HttpHeaderNames.ACCEPT_ENCODING, "");
    this.zstd = accept.toLowerCase(Locale.ROOT).contains("zstd");
  }

  @Override
  void begin() {
    if (path.kind() == CachePath.Kind.AC) {
      getActionResult();
      return;
    }
    if (!zstd) {
      ByteBuf bytes = deps.store().peek(path.function(), path.hash(),
          view -> ctx.alloc().directBuffer(view.remaining()).writeBytes(view));
      if (bytes != null) {
        respondBlob(bytes);
        return;
      }
    }
    onLoop(deps.executor().submit(this::openCas), (opened, error) -> {
      if (error != null) {
        respondError(error);
      } else if (opened == null) {
        respondText(HttpResponseStatus.NOT_FOUND, "not found: cas/" + path.hash());
      } else {
        claim = opened.claim;
        if (opened.whole != null) {
          respondBlob(opened.whole);
        } else {
          startStream(opened.reader);
        }
      }
    }, opened -> { // the connection closed while the blob was opened: no one will read it
      if (opened != null) {
        opened.claim.release();
        if (opened.whole != null) {
          opened.whole.release();
        }
        if (opened.reader != null) {
          deps.executor().release(opened.reader);
        }
      }
    });
  }

  /** Either the whole blob (small, identity) or an open reader, and its claim; null on a miss. */
  private record Opened(ByteBuf whole, BlobReader reader, BodyClaim claim) {}

  private Opened openCas() {
    var found = deps.store().openHash(path.function(), path.hash());
    if (found.isEmpty()) {
      return null;
    }
    var r = found.get();
    boolean stream = zstd || head || r.size() > WHOLE_LIMIT;
    // A piece is one stored chunk, raw or as a zstd frame (a raw frame adds a few bytes a block).
    long piece = deps.store().writeBufferBytes() + 1024L;
    long bytes = head ? 0 : stream ? Math.min(r.size() + 1024L, piece) * 2 : r.size();
    var claimed = BodyClaim.tryClaim(deps.executor(), bytes);
    if (claimed == null) {
      r.close();
      throw deps.executor().overBudget(bytes);
    }
    if (stream) {
      return new Opened(null, r, claimed);
    }
    ByteBuf whole = Unpooled.EMPTY_BUFFER;
    try (r) {
      for (var next = readPiece(ctx.alloc(), r); next != null; next = readPiece(ctx.alloc(), r)) {
        whole = join(ctx.alloc(), whole, next);
      }
      return new Opened(whole, null, claimed);
    } catch (RuntimeException e) {
      whole.release();
      claimed.release();
      throw e;
    }
  }

  /**
   * The reader's next piece in a direct buffer, or null at the end. A disk chunk lands in it with
   * one copy, and the socket takes it as it is (a heap array would be copied twice more: out of
   * the stored chunk's tag, then into a direct buffer for the socket).
   */
  private static ByteBuf readPiece(ByteBufAllocator alloc, BlobReader r) {
    int room = r.pieceRoom();
    var buf = alloc.directBuffer(room);
    try {
      var nio = buf.nioBuffer(0, room);
      if (!r.nextRaw(nio)) {
        buf.release();
        return null;
      }
      return buf.setIndex(nio.position(), nio.limit());
    } catch (RuntimeException e) {
      buf.release();
      throw e;
    }
  }

  /** {@code piece} after {@code whole}: the piece alone when it is the first. */
  private static ByteBuf join(ByteBufAllocator alloc, ByteBuf whole, ByteBuf piece) {
    if (whole.capacity() == 0) {
      whole.release();
      return piece;
    }
    var all = whole instanceof CompositeByteBuf c ? c : alloc.compositeBuffer().addComponent(true, whole);
    return all.addComponent(true, piece);
  }

  /** Answers with the whole blob, and releases it. */
  private void respondBlob(ByteBuf bytes) {
    int length = bytes.readableBytes();
    ByteBuf body = bytes;
    if (head) {
      bytes.release();
      body = Unpooled.EMPTY_BUFFER;
    }
    var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM);
    HttpUtil.setContentLength(response, length);
    respond(response);
  }

  private void startStream(BlobReader r) {
    this.reader = r;
    var response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM);
    if (zstd) {
      response.headers().set(HttpHeaderNames.CONTENT_ENCODING, "zstd");
      HttpUtil.setTransferEncodingChunked(response, true);
    } else {
      HttpUtil.setContentLength(response, r.size());
    }
    if (head) {
      if (zstd) {
        response.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        response.headers().remove(HttpHeaderNames.CONTENT_ENCODING);
        HttpUtil.setContentLength(response, r.size());
      }
      closeReader();
      respondHead(response);
      finishBody();
      return;
    }
    respondHead(response);
    var span = zeroCopy() ? r.fileSpan() : null;
    if (span != null) {
      sendFile(span);
    } else {
      pump();
    }
  }

  /**
   * Whether a file span may go to the socket as it is (sendfile): on a plain TCP connection. TLS
   * must encrypt every byte in user space, and an in-JVM channel has no file descriptor.
   */
  private boolean zeroCopy() {
    return ctx.channel() instanceof io.netty.channel.socket.SocketChannel
        && ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class) == null;
  }

  /**
   * Sends a blob the disk keeps as a file with zero copy: the kernel moves its pages to the
   * socket. The region holds no memory of ours, so nothing beyond the claim is held; the reader
   * (which owns the file) closes once the region is written or has failed.
   */
  private void sendFile(BlobReader.FileSpan span) {
    var region = new DefaultFileRegion(span.channel(), span.position(), span.count());
    ctx.writeAndFlush(region).addListener(f -> {
      closeReader();
      if (!f.isSuccess()) {
        var unused = ctx.close();
      } else if (!aborted) {
        finishBody();
      }
    });
  }

  /**
   * Reads the next piece, if the stream holds fewer than two: the next read overlaps the last
   * write, and a slow client stops the reading, not the heap.
   */
  private void pump() {
    var r = reader;
    if (r == null || reading || writing >= 2) {
      return;
    }
    reading = true;
    onLoop(deps.executor().submitNext(() -> nextPiece(r)), (bytes, error) -> {
      reading = false;
      if (aborted) {
        if (bytes != null) {
          bytes.release();
        }
        return; // the connection is gone; abort() closed the reader
      }
      if (error != null) {
        log.warn("reading cas/{} failed mid-response: {}", path.hash(), HttpErrors.message(error));
        var unused = ctx.close();
      } else if (bytes == null) {
        closeReader();
        finishBody();
      } else {
        writing++;
        ctx.writeAndFlush(new DefaultHttpContent(bytes)).addListener(f -> {
          writing--;
          if (!f.isSuccess()) {
            var unused = ctx.close();
          } else {
            pump();
          }
        });
        pump();
      }
    }, bytes -> {
      if (bytes != null) {
        bytes.release();
      }
    });
  }

  /** Reads under the reader's lock, which its close takes too: never a read of a closed reader. */
  private ByteBuf nextPiece(BlobReader r) {
    synchronized (r) {
      return aborted ? null : nextPieceLocked(r);
    }
  }

  private ByteBuf nextPieceLocked(BlobReader r) {
    if (!zstd) {
      return readPiece(ctx.alloc(), r);
    }
    StoredChunk chunk = r.nextStored();
    if (chunk == null) {
      return null;
    }
    return Unpooled.wrappedBuffer(chunk.zstdFrame());
  }

  @Override
  void ended() {
    claim.release();
  }

  @Override
  void abort() {
    aborted = true;
    closeReader();
    claim.release();
  }

  /** Closes the reader on the executor's closer thread: never refused, never on the loop. */
  private void closeReader() {
    var r = reader;
    reader = null;
    if (r != null) {
      deps.executor().release(new Closing(r));
    }
  }

  /** Closes a reader under its lock, which a read holds too (see {@link #nextPiece}). */
  private record Closing(BlobReader reader) implements AutoCloseable {
    @Override
    public void close() {
      synchronized (reader) {
        reader.close();
      }
    }
  }

  private void getActionResult() {
    var key = new AcKey(path.instance(), path.function(), path.hash());
    onLoop(deps.executor().submit(() -> deps.results().get(key)), (lookup, error) -> {
      if (error != null) {
        respondError(error);
      } else if (!lookup.hit()) {
        log.debug("ac/{} miss: {}", path.hash(), lookup.missReason());
        respondText(HttpResponseStatus.NOT_FOUND, "not found: ac/" + path.hash());
      } else {
        respondActionResult(lookup);
      }
    });
  }

  private void respondActionResult(ActionResults.Lookup lookup) {
    var entry = lookup.entry().orElseThrow();
    var accept = request.headers().get(HttpHeaderNames.ACCEPT, "");
    if (accept.contains("application/json") && entry.kind() == AcEntry.Kind.ACTION_RESULT) {
      String json;
      try {
        json = JsonFormat.printer().print(lookup.result().orElseThrow());
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        respondError(e);
        return;
      }
      var body = json.getBytes(StandardCharsets.UTF_8);
      var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
          head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
      HttpUtil.setContentLength(response, body.length);
      respond(response);
      return;
    }
    respondBlob(Unpooled.wrappedBuffer(entry.value()));
  }
}
