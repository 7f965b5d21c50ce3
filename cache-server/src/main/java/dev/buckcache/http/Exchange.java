package dev.buckcache.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * One request and its response. Runs on the channel's event loop; storage work goes to the
 * storage executor and comes back through {@link #onLoop}. Calls {@link CacheHttpHandler#done}
 * once the response is written so the next pipelined request can start.
 */
abstract class Exchange {
  final ChannelHandlerContext ctx;
  final HttpRequest request;
  final HttpDeps deps;
  final CacheHttpHandler handler;
  private boolean requestComplete;
  private boolean responded;
  private boolean headSent;
  private final long started = System.nanoTime();
  /** The authenticated caller's subject, for the access log (never the token). */
  String subject;

  /** Who writes what this request stores: subject, client (its user agent's product), address. */
  final dev.buckcache.storage.Provenance writer() {
    return new dev.buckcache.storage.Provenance(subject == null ? "anonymous" : subject,
        clientName(request.headers().get(io.netty.handler.codec.http.HttpHeaderNames.USER_AGENT)),
        "", handler.remoteHost(), java.time.Instant.now());
  }

  /** {@code bazel} for {@code bazel/4.2.3}, {@code ccache} for {@code ccache/4.8}; else {@code http}. */
  static String clientName(String userAgent) {
    if (userAgent == null) {
      return "http";
    }
    var name = new StringBuilder();
    for (int i = 0; i < userAgent.length() && name.length() < 32; i++) {
      char c = Character.toLowerCase(userAgent.charAt(i));
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.') {
        name.append(c);
      } else {
        break;
      }
    }
    return name.length() == 0 ? "http" : name.toString();
  }
  /**
   * For metrics and the access log, when the router knows them (the other tools' paths): the
   * kind, instance and key. Null: derived from a bazel-remote path.
   */
  String kind;
  String instance;
  String key;
  /** Error answers in Turborepo's JSON shape, {@code {"error":{"code","message"}}}. */
  boolean jsonErrors;
  /** False for requests that look nothing up (Turborepo's status): a 200 is "ok", not a hit. */
  boolean lookup = true;
  private int status;
  private long bytesOut;

  Exchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request, HttpDeps deps) {
    this.handler = handler;
    this.ctx = ctx;
    this.request = request;
    this.deps = deps;
    // A request without a body is complete at its head; the codec's empty last content that
    // follows belongs to no one and is dropped by the handler.
    this.requestComplete = !hasBody(request);
  }

  static boolean hasBody(HttpRequest request) {
    return HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
  }

  /** Starts work on the request line and headers. */
  abstract void begin();

  /** A piece of the request body; the exchange owns (and releases) it. */
  void onContent(HttpContent content) {
    boolean last = content instanceof LastHttpContent;
    content.release();
    if (last) {
      requestComplete = true;
    }
  }

  final void markRequestComplete() {
    requestComplete = true;
  }

  boolean requestComplete() {
    return requestComplete;
  }

  /** The connection closed before the exchange finished. */
  void abort() {}

  /** The response's last write is done (or failed): what it held may be returned. */
  void ended() {}

  /**
   * True while the client waits on the server: the request is all in and no answer has begun
   * (a big upload's commit, a slow disk). The idle timeout does not close such a connection.
   */
  boolean waitingOnServer() {
    return requestComplete && !headSent;
  }

  /** Completes on the event loop, if the connection is still open. */
  final <T> void onLoop(CompletableFuture<T> future, BiConsumer<T, Throwable> then) {
    onLoop(future, then, v -> {});
  }

  /**
   * Completes on the event loop, if the connection is still open; otherwise a successful result
   * goes to {@code orphan}, which must release what it holds (an opened reader), since no one
   * else ever will.
   */
  final <T> void onLoop(CompletableFuture<T> future, BiConsumer<T, Throwable> then,
      Consumer<T> orphan) {
    var unused = future.whenComplete((v, e) -> {
      try {
        ctx.executor().execute(() -> {
          if (ctx.channel().isActive()) {
            then.accept(v, e);
          } else if (e == null) {
            orphan.accept(v);
          }
        });
      } catch (RejectedExecutionException closing) { // the event loop is shutting down
        if (e == null) {
          orphan.accept(v);
        }
      }
    });
  }

  /**
   * Claims {@code bytes} of the in-flight budget for this request's body; when they do not fit,
   * answers 503 (with Retry-After) at once and returns null.
   */
  final BodyClaim claimOrRefuse(long bytes) {
    var claimed = BodyClaim.tryClaim(deps.executor(), bytes);
    if (claimed == null) {
      respondError(deps.executor().overBudget(bytes));
    }
    return claimed;
  }

  /** Tells a client waiting on {@code Expect: 100-continue} to send the body (once accepted). */
  final void continueIfExpected() {
    if (HttpUtil.is100ContinueExpected(request)) {
      ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
          HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER))
          .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }
  }

  final void respondText(HttpResponseStatus status, String text) {
    boolean json = jsonErrors && status.code() >= 400;
    var body = Unpooled.copiedBuffer(json ? HttpErrors.json(status, text) : text + "\n",
        StandardCharsets.UTF_8);
    var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE,
        json ? "application/json" : "text/plain; charset=utf-8");
    if (status.equals(HttpResponseStatus.SERVICE_UNAVAILABLE)) {
      response.headers().set(HttpHeaderNames.RETRY_AFTER, HttpErrors.retryAfterSeconds());
    }
    respond(response);
  }

  final void respondError(Throwable t) {
    respondText(HttpErrors.status(t), HttpErrors.message(t));
  }

  /** A complete response with a UTF-8 body of the given type. */
  static FullHttpResponse full(HttpResponseStatus status, String contentType, String body) {
    var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
    if (contentType != null) {
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    }
    return response;
  }

  /** Sends a complete response; keeps the connection only if the request body was all read. */
  final void respond(FullHttpResponse response) {
    if (!response.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
      HttpUtil.setContentLength(response, response.content().readableBytes());
    }
    status = response.status().code();
    bytesOut = request.method().name().equals("HEAD") ? 0 : HttpUtil.getContentLength(response, 0L);
    if (request.method().name().equals("HEAD")) {
      response.content().clear();
    }
    finish(response, response);
  }

  /** Sends the head of a streamed response; the body follows, then {@link #finishBody}. */
  final void respondHead(HttpResponse head) {
    status = head.status().code();
    headSent = true;
    bytesOut = HttpUtil.getContentLength(head, 0L);
    keepAlive(head);
    ctx.writeAndFlush(head).addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
  }

  final void finishBody() {
    finish(null, LastHttpContent.EMPTY_LAST_CONTENT);
  }

  private void finish(HttpResponse head, Object last) {
    if (responded) {
      io.netty.util.ReferenceCountUtil.release(last);
      return;
    }
    responded = true;
    headSent = true;
    record();
    boolean keep = head == null ? keepAliveDecided : keepAlive(head);
    var future = ctx.writeAndFlush(last);
    future.addListener(f -> ended());
    if (!keep) {
      future.addListener(ChannelFutureListener.CLOSE);
    } else {
      future.addListener(f -> {
        if (f.isSuccess()) {
          handler.done(this);
        } else {
          var unused = ctx.close();
        }
      });
    }
  }

  private boolean keepAliveDecided = true;

  private void record() {
    var metrics = deps.metrics();
    if (metrics == null || ctx.channel().hasAttr(HttpFrontEnd.WARM_UP)) {
      return;
    }
    var uri = request.uri();
    var kind = this.kind != null ? this.kind
        : uri.contains("/cas/") ? "cas" : uri.contains("/ac/") ? "ac" : "other";
    var method = request.method().name();
    long in = method.equals("PUT") ? HttpUtil.getContentLength(request, 0L) : 0;
    long nanos = System.nanoTime() - started;
    var result = !lookup && status < 400 ? "ok" : dev.buckcache.metrics.CacheMetrics.resultOf(status, method);
    metrics.request("http", kind, method, result, nanos, in, bytesOut);
    int slash = uri.lastIndexOf('/');
    var instance = this.instance != null ? this.instance : instanceOf(uri, kind);
    var key = this.key != null ? this.key : kind.equals("other") ? uri : uri.substring(slash + 1);
    metrics.accessLog().request(new dev.buckcache.metrics.AccessLog.Entry("http", method, kind,
        instance, key, Integer.toString(status), in, bytesOut, nanos, subject, 0));
  }

  /** The instance in {@code /[instance/]{ac,cas}/hash}: what lies before the kind. */
  private static String instanceOf(String uri, String kind) {
    int at = kind.equals("other") ? -1 : uri.indexOf("/" + kind + "/");
    return at <= 0 ? "" : uri.substring(1, at);
  }

  /** Keep-alive unless the client asked to close or the body was not fully read. */
  private boolean keepAlive(HttpResponse head) {
    keepAliveDecided = HttpUtil.isKeepAlive(request) && requestComplete;
    HttpUtil.setKeepAlive(head, keepAliveDecided);
    if (!keepAliveDecided) {
      head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    return keepAliveDecided;
  }

  final boolean responded() {
    return responded;
  }
}
