package dev.buckcache.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;

/** An answer known from the request head alone: errors, /healthz, /status. */
final class FixedExchange extends Exchange {
  private final HttpResponseStatus status;
  private final String contentType;
  private final String body;
  private final String allow;
  private final String challenge;

  FixedExchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, HttpResponseStatus status, String contentType, String body, String allow) {
    this(handler, ctx, request, deps, status, contentType, body, allow, null);
  }

  FixedExchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, HttpResponseStatus status, String contentType, String body, String allow,
      String challenge) {
    super(handler, ctx, request, deps);
    this.status = status;
    this.contentType = contentType;
    this.body = body;
    this.allow = allow;
    this.challenge = challenge;
  }

  static FixedExchange text(CacheHttpHandler handler, ChannelHandlerContext ctx,
      HttpRequest request, HttpDeps deps, HttpResponseStatus status, String text) {
    return new FixedExchange(handler, ctx, request, deps, status, null, text, null);
  }

  @Override
  void begin() {
    if (contentType == null && allow == null) {
      respondText(status, body);
      return;
    }
    var response = full(status, contentType, body);
    if (allow != null) {
      response.headers().set(io.netty.handler.codec.http.HttpHeaderNames.ALLOW, allow);
    }
    if (challenge != null) {
      response.headers().set(io.netty.handler.codec.http.HttpHeaderNames.WWW_AUTHENTICATE, challenge);
    }
    respond(response);
  }
}
