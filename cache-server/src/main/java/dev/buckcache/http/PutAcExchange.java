package dev.buckcache.http;

import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.AcValues;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * {@code PUT /ac/HASH}: action-cache values are small, so the body is gathered (up to the AC
 * limit) and stored in one step. ActionResults and other clients' values (ccache) are both kept;
 * see {@link AcValues}.
 */
final class PutAcExchange extends Exchange {
  private final CachePath path;
  private byte[] body;
  private int received;

  PutAcExchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, CachePath path) {
    super(handler, ctx, request, deps);
    this.path = path;
  }

  @Override
  void begin() {
    try {
      if (PutCasExchange.Uploads.isZstd(request)) {
        respondText(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding zstd is supported for /cas/ only");
        return;
      }
      long length = PutCasExchange.Uploads.contentLength(request);
      PutCasExchange.Uploads.checkLimit(length, deps.maxAcSize());
      body = new byte[(int) length];
    } catch (PutCasExchange.Uploads.Rejected e) {
      respondText(e.status, e.getMessage());
      return;
    }
    continueIfExpected();
    if (body.length == 0) {
      store();
    }
  }

  @Override
  void onContent(HttpContent content) {
    try {
      if (body != null && !responded()) {
        var buf = content.content();
        int n = Math.min(buf.readableBytes(), body.length - received);
        buf.readBytes(body, received, n);
        received += n;
      }
    } finally {
      content.release();
    }
    if (content instanceof LastHttpContent) {
      markRequestComplete();
      if (body != null && body.length > 0 && !responded()) {
        store();
      }
    }
  }

  private void store() {
    if (received != body.length) {
      respondText(HttpResponseStatus.BAD_REQUEST,
          "body ended after " + received + " of " + body.length + " bytes");
      return;
    }
    var key = new AcKey(path.instance(), path.function(), path.hash());
    var value = body;
    onLoop(deps.executor().submit(() -> {
      deps.store().put(key, AcValues.classify(value));
      return null;
    }), (v, e) -> {
      if (e != null) {
        respondError(e);
      } else {
        respondText(HttpResponseStatus.OK, "stored");
      }
    });
  }
}
