package dev.buckcache.http;

import dev.buckcache.auth.Principal;
import dev.buckcache.auth.Scope;
import dev.buckcache.insight.InvocationJson;
import dev.buckcache.storage.Provenance;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.time.Instant;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The JSON API beside the cache: {@code GET /api/invocations[?limit=&tool=]},
 * {@code GET /api/invocations/{id}} (per-build statistics; the same access as {@code /metrics},
 * and subjects only for an admin) and {@code POST /api/purge?written_by=&since=&dry_run=} (admin
 * only: removes the action-cache entries one subject wrote, and records who did it).
 */
final class ApiExchanges {
  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 1000;

  private ApiExchanges() {}

  /**
   * @param viewer who asks: null for an unauthenticated caller let in by the {@code /metrics}
   *     rule (loopback, or metrics.public), which sees no subjects and may not purge
   */
  static Exchange route(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, String path, Principal viewer) {
    var query = new QueryStringDecoder(request.uri()).parameters();
    if (path.equals("/api/purge")) {
      return purge(handler, ctx, request, deps, viewer, query);
    }
    var insight = deps.metrics() == null ? null : deps.metrics().insight();
    if (!path.equals("/api/invocations") && !path.startsWith("/api/invocations/")) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.NOT_FOUND,
          "no such API: " + path + " (there are /api/invocations and /api/purge)");
    }
    if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
      return new FixedExchange(handler, ctx, request, deps, HttpResponseStatus.METHOD_NOT_ALLOWED,
          null, "use GET", "GET, HEAD");
    }
    if (insight == null) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.NOT_FOUND,
          "this server keeps no build statistics");
    }
    boolean subjects = viewer != null && viewer.scope() == Scope.ADMIN;
    if (path.startsWith("/api/invocations/")) {
      var id = QueryStringDecoder.decodeComponent(path.substring("/api/invocations/".length()));
      var found = insight.get(id);
      if (found.isEmpty()) {
        return json(handler, ctx, request, deps, HttpResponseStatus.NOT_FOUND,
            dev.buckcache.http.HttpErrors.json(HttpResponseStatus.NOT_FOUND,
                "no recent build with invocation id " + id));
      }
      return json(handler, ctx, request, deps, HttpResponseStatus.OK,
          InvocationJson.one(found.get(), subjects));
    }
    int limit;
    try {
      limit = Integer.parseInt(first(query, "limit", Integer.toString(DEFAULT_LIMIT)));
    } catch (NumberFormatException e) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.BAD_REQUEST,
          "limit must be a number");
    }
    if (limit < 1 || limit > MAX_LIMIT) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.BAD_REQUEST,
          "limit must be 1 to " + MAX_LIMIT);
    }
    var list = insight.recent(limit, first(query, "tool", ""));
    return json(handler, ctx, request, deps, HttpResponseStatus.OK,
        InvocationJson.list(list, subjects));
  }

  private static Exchange purge(CacheHttpHandler handler, ChannelHandlerContext ctx,
      HttpRequest request, HttpDeps deps, Principal viewer, Map<String, java.util.List<String>> query) {
    if (!request.method().equals(HttpMethod.POST)) {
      return new FixedExchange(handler, ctx, request, deps, HttpResponseStatus.METHOD_NOT_ALLOWED,
          null, "use POST", "POST");
    }
    if (viewer == null) {
      return new FixedExchange(handler, ctx, request, deps, HttpResponseStatus.UNAUTHORIZED,
          null, "purge needs an admin token", null, "Bearer realm=\"buckcache\"");
    }
    if (viewer.scope() != Scope.ADMIN || !viewer.instances().isEmpty()) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.FORBIDDEN,
          "token for '" + viewer.subject() + "' (scope " + viewer.scope().label()
              + (viewer.instances().isEmpty() ? "" : ", limited to some instances")
              + ") may not purge: that takes an admin token for all instances");
    }
    if (deps.audit() == null) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.NOT_FOUND,
          "purge is not offered here");
    }
    var subject = first(query, "written_by", "");
    if (subject.isEmpty()) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.BAD_REQUEST,
          "written_by=SUBJECT is required: the token subject whose action-cache entries go");
    }
    Instant since;
    try {
      since = since(first(query, "since", ""));
    } catch (IllegalArgumentException e) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.BAD_REQUEST,
          "since must be a time (2026-12-01T09:00:00Z) or an age (30m, 24h, 7d): "
              + e.getMessage());
    }
    var dryRunText = first(query, "dry_run", "false");
    if (!dryRunText.equals("true") && !dryRunText.equals("false")) {
      return FixedExchange.text(handler, ctx, request, deps, HttpResponseStatus.BAD_REQUEST,
          "dry_run must be true or false");
    }
    boolean dryRun = dryRunText.equals("true");
    var bounded = Provenance.bound(subject, 128);
    Predicate<Provenance> match = w -> w.subject().equals(bounded)
        && (since == null || !w.written().isBefore(since));
    return new PurgeExchange(handler, ctx, request, deps, viewer.subject(), subject, since, dryRun,
        match);
  }

  /** An ISO-8601 instant, or an age before now ({@code 24h}); empty for no lower bound. */
  static Instant since(String text) {
    return text.isEmpty() ? null
        : dev.buckcache.config.ConfigLoader.parseInstantOrAge(text, Instant.now());
  }

  private static String first(Map<String, java.util.List<String>> query, String name, String or) {
    var values = query.get(name);
    return values == null || values.isEmpty() ? or : values.get(0);
  }

  private static Exchange json(CacheHttpHandler handler, ChannelHandlerContext ctx,
      HttpRequest request, HttpDeps deps, HttpResponseStatus status, String body) {
    return new FixedExchange(handler, ctx, request, deps, status, "application/json", body + "\n",
        null);
  }

  /** Runs the purge on the storage executor (it scans the action-cache index), then answers. */
  private static final class PurgeExchange extends Exchange {
    private final String by;
    private final String writtenBy;
    private final Instant since;
    private final boolean dryRun;
    private final Predicate<Provenance> match;

    PurgeExchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
        HttpDeps deps, String by, String subject, Instant since, boolean dryRun,
        Predicate<Provenance> match) {
      super(handler, ctx, request, deps);
      this.by = by;
      this.writtenBy = subject;
      this.since = since;
      this.dryRun = dryRun;
      this.match = match;
    }

    @Override
    void begin() {
      var address = handler.remoteHost();
      onLoop(deps.executor().submit(() -> {
        long started = System.nanoTime();
        var fields = new java.util.LinkedHashMap<String, Object>();
        fields.put("writtenBy", writtenBy);
        fields.put("since", since == null ? null : since.toString());
        fields.put("dryRun", dryRun);
        java.util.List<dev.buckcache.storage.AcKey> purged;
        try {
          purged = deps.store().purgeActionCache(match, dryRun);
        } catch (RuntimeException e) { // a purge that went part way is audited too
          if (!dryRun) {
            fields.put("failed", e.getMessage());
            fields.put("from", address);
            deps.audit().record("purge", by, fields);
          }
          throw e;
        }
        fields.put("purged", purged.size());
        fields.put("from", address);
        fields.put("millis", (System.nanoTime() - started) / 1_000_000);
        if (!dryRun) {
          deps.audit().record("purge", by, fields);
        }
        return new dev.buckcache.insight.Json().field("purged", purged.size())
            .field("dryRun", dryRun).field("writtenBy", writtenBy)
            .field("since", since == null ? null : since.toString()).close();
      }), (body, e) -> {
        if (e != null) {
          respondError(e);
        } else {
          respond(full(HttpResponseStatus.OK, "application/json", body + "\n"));
        }
      });
    }
  }
}
