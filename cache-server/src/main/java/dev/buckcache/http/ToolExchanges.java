package dev.buckcache.http;

import dev.buckcache.auth.Access;
import dev.buckcache.auth.CallerResolver;
import dev.buckcache.storage.AcEntry;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/*
 * Design notes
 *
 * What each client needs, beyond GET (200 or 404) and PUT (2xx) of its key:
 *  - Gradle (HttpBuildCacheService): Basic auth, sent before any challenge; Expect:
 *    100-continue is honoured. A PUT answered 413, 403 or 5xx makes Gradle 4.4.1 warn and stop
 *    using the remote cache for the rest of that build; the build goes on. Later versions fail
 *    the build on 401 and 403 (misconfiguration), so a read token goes with push = false.
 *  - Turborepo: Bearer auth; x-artifact-duration (and x-artifact-tag when signing) stored with
 *    the artifact and sent back on GET; HEAD; GET /v8/artifacts/status; POST /v8/artifacts/events
 *    (usage events, which a cache without a dashboard drops); answers in JSON.
 *  - Nx (the OpenAPI spec it publishes for custom servers): Bearer auth; a PUT of a key already
 *    stored is 409 (checked when the body is in, not atomically: two racing first PUTs both
 *    store, the last wins), a PUT without write access 403. Nx fails
 *    the run on any other 4xx or a 5xx (seen with 24.0.6: 413 gives "Misconfigured remote cache
 *    endpoint"), so an artifact over the limit is refused with 403 and a message saying so.
 * Reads need read access to the instance and writes write_ac, as for /ac/; an anonymous-miss
 * caller reads misses and is refused writes.
 */

/** The exchanges of Gradle's, Turborepo's and Nx's cache protocols ({@link ToolPath}). */
final class ToolExchanges {
  /** The largest body of a Turborepo events POST. */
  static final long MAX_SMALL_BODY = 1 << 20;

  private ToolExchanges() {}

  static Exchange route(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, ToolPath path, CallerResolver.Caller caller) {
    var method = request.method();
    var allowed = switch (path.endpoint()) {
      case ARTIFACT -> method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)
          || method.equals(HttpMethod.PUT);
      case STATUS -> method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD);
      case EVENTS -> method.equals(HttpMethod.POST);
    };
    if (!allowed) {
      var allow = switch (path.endpoint()) {
        case ARTIFACT -> "GET, HEAD, PUT";
        case STATUS -> "GET, HEAD";
        case EVENTS -> "POST";
      };
      return tagged(new FixedExchange(handler, ctx, request, deps,
          HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
          "method " + method + " not allowed here; use " + allow + "\n", allow), path);
    }
    var access = method.equals(HttpMethod.PUT) ? Access.WRITE_AC : Access.READ;
    if (!caller.principal().permits(access, path.instance(), deps.strictReadScope())) {
      // As for /ac/: an empty-cache caller's reads are misses, never a hint of what is stored.
      var status = caller.emptyCache() && access == Access.READ
          ? HttpResponseStatus.NOT_FOUND : HttpResponseStatus.FORBIDDEN;
      return tagged(FixedExchange.text(handler, ctx, request, deps, status,
          caller.refusal(access, path.instance())), path);
    }
    return tagged(switch (path.endpoint()) {
      case STATUS -> new FixedExchange(handler, ctx, request, deps, HttpResponseStatus.OK,
          "application/json", "{\"status\":\"enabled\"}", null);
      case EVENTS -> new GatheredPutExchange(handler, ctx, request, deps, discard());
      case ARTIFACT -> artifact(handler, ctx, request, deps, path);
    }, path);
  }

  /** Names the exchange for metrics and the access log; Turborepo gets its errors in JSON. */
  static Exchange tagged(Exchange exchange, ToolPath path) {
    exchange.kind = path.tool().kind;
    exchange.jsonErrors = path.tool() == ToolPath.Tool.TURBO;
    exchange.lookup = path.endpoint() == ToolPath.Endpoint.ARTIFACT; // status, events: not a hit
    exchange.instance = path.instance();
    exchange.key = path.key().isEmpty() ? path.endpoint().name().toLowerCase(java.util.Locale.ROOT)
        : path.key();
    return exchange;
  }

  private static Exchange artifact(CacheHttpHandler handler, ChannelHandlerContext ctx,
      HttpRequest request, HttpDeps deps, ToolPath path) {
    if (!request.method().equals(HttpMethod.PUT)) {
      return new Get(handler, ctx, request, deps, path);
    }
    long duration = -1;
    String tag = null;
    if (path.tool() == ToolPath.Tool.TURBO) {
      var d = request.headers().get("x-artifact-duration");
      try {
        duration = d == null ? -1 : Math.max(-1, Long.parseLong(d.trim()));
      } catch (NumberFormatException e) {
        return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.BAD_REQUEST,
            "x-artifact-duration '" + d + "' is not a number of milliseconds");
      }
      tag = request.headers().get("x-artifact-tag");
      if (tag != null && tag.length() > ToolArtifacts.MAX_TAG) {
        return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.BAD_REQUEST,
            "x-artifact-tag is longer than " + ToolArtifacts.MAX_TAG + " characters");
      }
    }
    return new GatheredPutExchange(handler, ctx, request, deps, new Store(deps, path, duration, tag));
  }

  /** A PUT of an artifact. */
  private record Store(HttpDeps deps, ToolPath path, long durationMs, String tag)
      implements GatheredPutExchange.Target {
    @Override
    public String what() {
      return path.tool().kind + " artifacts";
    }

    @Override
    public long limit() {
      return deps.maxAcSize() - headerBytes();
    }

    @Override
    public int headerBytes() {
      return ToolArtifacts.headerLength(tag);
    }

    /** Nx fails the whole run on a 413 (its spec has none); a 403 it takes as "not stored". */
    @Override
    public HttpResponseStatus tooLarge() {
      return path.tool() == ToolPath.Tool.NX ? HttpResponseStatus.FORBIDDEN
          : HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
    }

    @Override
    public GatheredPutExchange.Answer store(byte[] value, dev.buckcache.storage.Provenance writer) {
      var key = ToolArtifacts.key(path.tool(), path.instance(), path.key());
      if (path.tool() == ToolPath.Tool.NX && present(deps, key, path.tool())) {
        return GatheredPutExchange.Answer.text(HttpResponseStatus.CONFLICT,
            "nx/" + path.key() + " is stored already; Nx records are not replaced");
      }
      ToolArtifacts.writeHeader(value, path.tool(), durationMs, tag);
      deps.results().put(key, new AcEntry(AcEntry.Kind.RAW, value, writer));
      if (path.tool() == ToolPath.Tool.TURBO) {
        return new GatheredPutExchange.Answer(HttpResponseStatus.ACCEPTED, "application/json",
            "{\"urls\":[\"" + path.instance() + "/" + path.key() + "\"]}"); // validated characters
      }
      return GatheredPutExchange.Answer.text(HttpResponseStatus.OK, "stored");
    }
  }

  private static boolean present(HttpDeps deps, dev.buckcache.storage.AcKey key, ToolPath.Tool tool) {
    return deps.store().get(key).map(e -> ToolArtifacts.read(e.value(), tool) != null).orElse(false);
  }

  /** Turborepo's usage events: read and dropped (there is no dashboard to feed). */
  private static GatheredPutExchange.Target discard() {
    return new GatheredPutExchange.Target() {
      @Override
      public String what() {
        return "event batches";
      }

      @Override
      public long limit() {
        return MAX_SMALL_BODY;
      }

      @Override
      public int headerBytes() {
        return 0;
      }

      @Override
      public GatheredPutExchange.Answer store(byte[] value, dev.buckcache.storage.Provenance writer) {
        return new GatheredPutExchange.Answer(HttpResponseStatus.OK, "application/json", "{}");
      }
    };
  }

  /**
   * GET or HEAD of an artifact. The value is read whole (it is an action-cache entry, at most
   * the AC limit) and claims its size from the in-flight budget until it is sent, or is answered
   * 503 with Retry-After.
   */
  static final class Get extends Exchange {
    private final ToolPath path;
    private BodyClaim claim = BodyClaim.NONE;

    Get(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request, HttpDeps deps,
        ToolPath path) {
      super(handler, ctx, request, deps);
      this.path = path;
    }

    private record Found(ToolArtifacts.Stored stored, BodyClaim claim) {}

    @Override
    void begin() {
      var key = ToolArtifacts.key(path.tool(), path.instance(), path.key());
      onLoop(deps.executor().submit(() -> load(key)), (found, error) -> {
        if (error != null) {
          respondError(error);
        } else if (found == null) {
          respondText(HttpResponseStatus.NOT_FOUND, "not found: " + path.tool().kind + "/" + path.key());
        } else {
          claim = found.claim();
          send(found.stored());
        }
      }, found -> {
        if (found != null) {
          found.claim().release();
        }
      });
    }

    private Found load(dev.buckcache.storage.AcKey key) {
      var entry = deps.store().get(key);
      var stored = entry.map(e -> ToolArtifacts.read(e.value(), path.tool())).orElse(null);
      if (stored == null) {
        return null;
      }
      boolean head = request.method().equals(HttpMethod.HEAD);
      long bytes = head ? 0 : stored.value().length;
      var claimed = BodyClaim.tryClaim(deps.executor(), bytes);
      if (claimed == null) {
        throw deps.executor().overBudget(bytes);
      }
      return new Found(stored, claimed);
    }

    private void send(ToolArtifacts.Stored stored) {
      boolean head = request.method().equals(HttpMethod.HEAD);
      var body = head ? Unpooled.EMPTY_BUFFER
          : Unpooled.wrappedBuffer(stored.value(), stored.bodyOffset(), stored.bodyLength());
      var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM);
      HttpUtil.setContentLength(response, stored.bodyLength());
      if (stored.durationMs() >= 0) {
        response.headers().set("x-artifact-duration", stored.durationMs());
      }
      if (stored.tag() != null) {
        response.headers().set("x-artifact-tag", stored.tag());
      }
      respond(response);
    }

    @Override
    void ended() {
      claim.release();
    }

    @Override
    void abort() {
      claim.release();
    }
  }
}
