package dev.buckcache.http;

import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.AcValues;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.Arrays;

/*
 * Design notes
 *
 * Memory. The announced Content-Length is claimed from the in-flight budget
 * (storage.max_inflight_bytes) when the head arrives: over the AC limit is 413, a claim that
 * does not fit is 503 with Retry-After, both before a byte of body is read (the connection then
 * closes, as the body was not read). The claim is what the body may come to hold; the buffer
 * itself starts small and doubles as bytes arrive, capped at the length, so a client that
 * announces much and sends little holds at most twice what it sent (and 8 KiB at first).
 *
 * The claim is returned exactly once (BodyClaim): when the put finishes, on a refusal of the
 * body (400), or on abort if no put is running. A running put keeps it until it is done, since
 * it still holds the bytes.
 */

/**
 * {@code PUT /ac/HASH}: action-cache values are small, so the body is gathered (up to the AC
 * limit) and stored in one step. ActionResults and other clients' values (ccache) are both kept;
 * see {@link AcValues}.
 */
final class PutAcExchange extends Exchange {
  private static final int FIRST_BUFFER = 8 * 1024;
  private static final byte[] EMPTY = new byte[0];

  private final CachePath path;
  /** The announced length; -1 until the announcement is accepted (and after a refusal). */
  private long length = -1;
  private BodyClaim claim = BodyClaim.NONE;
  private byte[] body = EMPTY;
  private int received;
  private boolean storing;

  PutAcExchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, CachePath path) {
    super(handler, ctx, request, deps);
    this.path = path;
  }

  @Override
  void begin() {
    long announced;
    try {
      if (PutCasExchange.Uploads.isZstd(request)) {
        respondText(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding zstd is supported for /cas/ only");
        return;
      }
      announced = PutCasExchange.Uploads.contentLength(request);
      PutCasExchange.Uploads.checkLimit(announced, deps.maxAcSize(), "action-cache values");
    } catch (PutCasExchange.Uploads.Rejected e) {
      respondText(e.status, e.getMessage());
      return;
    }
    var claimed = claimOrRefuse(announced);
    if (claimed == null) {
      return;
    }
    claim = claimed;
    length = announced;
    continueIfExpected();
    if (length == 0) {
      store();
    }
  }

  private boolean accepting() {
    return length >= 0 && !storing && !responded();
  }

  @Override
  void onContent(HttpContent content) {
    try {
      if (accepting()) {
        append(content.content());
      }
    } finally {
      content.release();
    }
    if (content instanceof LastHttpContent) {
      markRequestComplete();
      if (accepting() && length > 0) {
        store();
      }
    }
  }

  private void append(ByteBuf buf) {
    int n = (int) Math.min(buf.readableBytes(), length - received);
    if (received + n > body.length) {
      long grown = Math.max(received + n, Math.max(FIRST_BUFFER, 2L * body.length));
      body = Arrays.copyOf(body, (int) Math.min(length, grown));
    }
    buf.readBytes(body, received, n);
    received += n;
  }

  /** Bytes of body buffer this exchange holds now (allocated, not just received). */
  long heldBytes() {
    return body.length;
  }

  private void store() {
    storing = true;
    if (received != length) {
      release();
      respondText(HttpResponseStatus.BAD_REQUEST,
          "body ended after " + received + " of " + length + " bytes");
      return;
    }
    var key = new AcKey(path.instance(), path.function(), path.hash());
    var value = body; // exactly length bytes: the buffer never grows past the length
    body = EMPTY;
    var stored = deps.executor().submit(() -> {
      deps.store().put(key, AcValues.classify(value));
      return null;
    });
    var unused = stored.whenComplete((v, e) -> claim.release());
    onLoop(stored, (v, e) -> {
      if (e != null) {
        respondError(e);
      } else {
        respondText(HttpResponseStatus.OK, "stored");
      }
    });
  }

  private void release() {
    body = EMPTY;
    claim.release();
  }

  @Override
  void abort() {
    if (!storing) {
      release();
    }
  }
}
