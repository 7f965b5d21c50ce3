package dev.buckcache.http;

import dev.buckcache.auth.Access;
import dev.buckcache.auth.AuthException;
import dev.buckcache.auth.CallerResolver;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection's requests, served one at a time in arrival order, so pipelined requests get
 * their responses in order. While a request is being served, later messages wait in a backlog
 * and socket reads stop; the body of the current request goes to its exchange.
 */
final class CacheHttpHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(CacheHttpHandler.class);
  private static final String CACHE_METHODS = "GET, HEAD, PUT";

  private final HttpDeps deps;
  private final ArrayDeque<Object> backlog = new ArrayDeque<>();
  private final long headTimeoutNanos;
  private ChannelHandlerContext ctx;
  private Exchange current;
  /**
   * Armed while the connection waits for a request head, disarmed when one is decoded: a client
   * trickling a head byte by byte (slowloris) keeps the idle timer from firing, not this one.
   */
  private ScheduledFuture<?> headDeadline;

  CacheHttpHandler(HttpDeps deps, java.time.Duration headTimeout) {
    this.deps = deps;
    this.headTimeoutNanos = headTimeout.toNanos();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    armHeadDeadline();
  }

  private void armHeadDeadline() {
    if (headDeadline == null) {
      headDeadline = ctx.executor().schedule(() -> {
        headDeadline = null;
        if (current == null) {
          log.debug("no complete request head from {} within {} ms: closing",
              ctx.channel().remoteAddress(), headTimeoutNanos / 1_000_000);
          var unused = ctx.close();
        }
      }, headTimeoutNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void disarmHeadDeadline() {
    if (headDeadline != null) {
      headDeadline.cancel(false);
      headDeadline = null;
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (current == null) {
      start(msg);
    } else if (!current.requestComplete() && isBody(msg)) {
      current.onContent((HttpContent) msg);
    } else {
      backlog.add(msg);
      ctx.channel().config().setAutoRead(false);
    }
  }

  private static boolean isBody(Object msg) {
    return msg instanceof HttpContent && !(msg instanceof HttpRequest);
  }

  private void start(Object msg) {
    if (!(msg instanceof HttpRequest request)) {
      ReferenceCountUtil.release(msg); // the rest of a body we already answered, or its end
      return;
    }
    disarmHeadDeadline();
    current = route(request);
    current.begin();
  }

  /** The exchange being served, or null between requests. */
  Exchange current() {
    return current;
  }

  /** Called by the exchange when its response is written. */
  void done(Exchange exchange) {
    if (current != exchange) {
      return;
    }
    current = null;
    while (!backlog.isEmpty()) {
      var msg = backlog.peek();
      if (current == null) {
        backlog.poll();
        start(msg);
      } else if (!current.requestComplete() && isBody(msg)) {
        backlog.poll();
        current.onContent((HttpContent) msg);
      } else {
        return; // the next request waits for this one
      }
    }
    if (current == null) {
      armHeadDeadline();
    }
    if (current == null || !current.requestComplete()) {
      ctx.channel().config().setAutoRead(true);
    }
  }

  private Exchange route(HttpRequest request) {
    var failure = request.decoderResult().cause();
    if (failure != null) {
      return FixedExchange.text(this, ctx, request, deps, statusForDecodeFailure(failure),
          "malformed request: " + failure.getMessage());
    }
    var method = request.method();
    var uri = request.uri();
    var path = uri.contains("?") ? uri.substring(0, uri.indexOf('?')) : uri;
    if (path.equals("/healthz")) {
      return new FixedExchange(this, ctx, request, deps, HttpResponseStatus.OK,
          "text/plain; charset=utf-8", "ok\n", null);
    }
    boolean open = deps.metricsPublic() || fromLoopback();
    if (path.equals("/metrics") && open) {
      return metrics(request);
    }
    if (path.equals("/") && open) {
      return statusPage(request);
    }
    if (path.startsWith("/api/")) {
      return api(request, path, open);
    }
    ToolPath tool;
    try {
      tool = ToolPath.parse(uri);
    } catch (ToolPath.Invalid e) {
      return ToolExchanges.tagged(FixedExchange.text(this, ctx, request, deps,
          HttpResponseStatus.BAD_REQUEST, e.getMessage()), new ToolPath(e.tool,
          ToolPath.Endpoint.ARTIFACT, "", "malformed"));
    }
    CallerResolver.Caller caller;
    try {
      caller = deps.callers().resolve("http", request.headers().get(HttpHeaderNames.AUTHORIZATION),
          this::peerCertificates, remoteHost());
    } catch (AuthException e) {
      return unauthorized(request, e, tool);
    }
    if (caller.emptyCache() && (path.equals("/metrics") || path.equals("/") || path.equals("/status"))) {
      return unauthorized(request, caller.failure(), null); // a miss caller is not authenticated for them
    }
    if (path.equals("/metrics")) {
      return metrics(request);
    }
    if (path.equals("/")) {
      return statusPage(request);
    }
    var exchange = tool != null ? ToolExchanges.route(this, ctx, request, deps, tool, caller)
        : routeAuthenticated(request, method, path, caller);
    exchange.subject = caller.principal().subject();
    return exchange;
  }

  /**
   * {@code /api/}: who may look is who may read {@code /metrics} (a token, or loopback or
   * metrics.public without one); subjects, and purge, take an admin token.
   */
  private Exchange api(HttpRequest request, String path, boolean open) {
    CallerResolver.Caller caller;
    try {
      caller = deps.callers().resolve("http", request.headers().get(HttpHeaderNames.AUTHORIZATION),
          this::peerCertificates, remoteHost());
    } catch (AuthException e) {
      if (!open || path.equals("/api/purge")) {
        return unauthorized(request, e, null);
      }
      caller = null;
    }
    dev.buckcache.auth.Principal viewer = null;
    if (caller != null && !caller.emptyCache()) {
      viewer = caller.principal();
    } else if (caller != null && !open) {
      return unauthorized(request, caller.failure(), null);
    }
    var exchange = ApiExchanges.route(this, ctx, request, deps, path, viewer);
    exchange.subject = viewer == null ? null : viewer.subject();
    return exchange;
  }

  private Exchange routeAuthenticated(HttpRequest request, HttpMethod method, String path,
      CallerResolver.Caller caller) {
    var principal = caller.principal();
    if (path.equals("/status")) {
      if (!method.equals(HttpMethod.GET) && !method.equals(HttpMethod.HEAD)) {
        return methodNotAllowed(request, "GET, HEAD");
      }
      return new FixedExchange(this, ctx, request, deps, HttpResponseStatus.OK,
          "application/json", deps.status().get(), null);
    }
    CachePath cachePath;
    try {
      cachePath = CachePath.parse(path, deps.digests());
    } catch (CachePath.Invalid e) {
      var status = e.problem.isCachePath() ? HttpResponseStatus.BAD_REQUEST : HttpResponseStatus.NOT_FOUND;
      return FixedExchange.text(this, ctx, request, deps, status, e.getMessage());
    }
    var access = method.equals(HttpMethod.PUT)
        ? (cachePath.kind() == CachePath.Kind.AC ? Access.WRITE_AC : Access.WRITE_CAS)
        : Access.READ;
    if (!principal.permits(access, cachePath.instance(), deps.strictReadScope())) {
      if (access == Access.WRITE_AC) { // its next lookup is a miss caused by this refusal
        deps.results().refused(
            new dev.buckcache.storage.AcKey(cachePath.instance(), cachePath.function(), cachePath.hash()));
      }
      // An empty-cache caller's reads are misses: a GET or HEAD never learns what is stored.
      var status = caller.emptyCache() && access == Access.READ
          ? HttpResponseStatus.NOT_FOUND : HttpResponseStatus.FORBIDDEN;
      return FixedExchange.text(this, ctx, request, deps, status,
          caller.refusal(access, cachePath.instance()));
    }
    if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
      return new GetExchange(this, ctx, request, deps, cachePath);
    }
    if (method.equals(HttpMethod.PUT)) {
      return cachePath.kind() == CachePath.Kind.AC
          ? new GatheredPutExchange(this, ctx, request, deps,
              GatheredPutExchange.actionCache(deps, cachePath))
          : new PutCasExchange(this, ctx, request, deps, cachePath);
    }
    return methodNotAllowed(request, CACHE_METHODS);
  }

  String remoteHost() {
    return ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress a && a.getAddress() != null
        ? a.getAddress().getHostAddress() : String.valueOf(ctx.channel().remoteAddress());
  }

  private boolean fromLoopback() {
    return ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress a
        && a.getAddress() != null && a.getAddress().isLoopbackAddress();
  }

  private Exchange statusPage(HttpRequest request) {
    if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
      return methodNotAllowed(request, "GET, HEAD");
    }
    return new FixedExchange(this, ctx, request, deps, HttpResponseStatus.OK,
        "text/html; charset=utf-8", deps.statusPage().get(), null);
  }

  private Exchange metrics(HttpRequest request) {
    return new FixedExchange(this, ctx, request, deps, HttpResponseStatus.OK,
        "text/plain; version=0.0.4; charset=utf-8", deps.metricsText().get(), null);
  }

  /** The client's certificate chain under mTLS, else null. */
  private java.security.cert.Certificate[] peerCertificates() {
    var ssl = ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class);
    if (ssl == null) {
      return null;
    }
    try {
      return ssl.engine().getSession().getPeerCertificates();
    } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
      return null;
    }
  }

  /** 401, with the challenge the client answers: Basic for Gradle, whose only form it is. */
  private Exchange unauthorized(HttpRequest request, AuthException e, ToolPath tool) {
    var toolName = tool == null ? null : tool.tool();
    var challenge = toolName == ToolPath.Tool.GRADLE ? "Basic realm=\"buckcache\""
        : "Bearer realm=\"buckcache\""
            + (e.reason() == AuthException.Reason.MISSING ? "" : ", error=\"invalid_token\"");
    var exchange = toolName == ToolPath.Tool.TURBO
        ? new FixedExchange(this, ctx, request, deps, HttpResponseStatus.UNAUTHORIZED,
            "application/json", HttpErrors.json(HttpResponseStatus.UNAUTHORIZED, e.getMessage()),
            null, challenge)
        : new FixedExchange(this, ctx, request, deps, HttpResponseStatus.UNAUTHORIZED,
            "text/plain; charset=utf-8", e.getMessage() + "\n", null, challenge);
    return tool == null ? exchange : ToolExchanges.tagged(exchange, tool);
  }

  private Exchange methodNotAllowed(HttpRequest request, String allow) {
    return new FixedExchange(this, ctx, request, deps, HttpResponseStatus.METHOD_NOT_ALLOWED,
        "text/plain; charset=utf-8",
        "method " + request.method() + " not allowed here; use " + allow + "\n", allow);
  }

  private static HttpResponseStatus statusForDecodeFailure(Throwable failure) {
    if (failure instanceof TooLongHttpLineException) {
      return HttpResponseStatus.REQUEST_URI_TOO_LONG;
    }
    if (failure instanceof TooLongHttpHeaderException) {
      return HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    if (failure instanceof TooLongFrameException) {
      return HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
    }
    return HttpResponseStatus.BAD_REQUEST;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    disarmHeadDeadline();
    if (current != null) {
      current.abort();
      current = null;
    }
    backlog.forEach(ReferenceCountUtil::release);
    backlog.clear();
    ctx.fireChannelInactive();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      if (current != null && current.waitingOnServer()) {
        return; // not idle: the client waits for our answer (the head deadline still holds)
      }
      log.debug("closing idle connection from {}", ctx.channel().remoteAddress());
      var unused = ctx.close();
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
    var unused = ctx.close();
  }
}
