package dev.buckcache.grpc;

import dev.buckcache.auth.Access;
import dev.buckcache.auth.AuthException;
import dev.buckcache.auth.CallerResolver;
import dev.buckcache.auth.Principal;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Who is calling: the interceptor resolves the {@code authorization} metadata and the client
 * certificate with the shared {@link CallerResolver} and puts the caller in the call's Context;
 * services ask {@link #require} before they act. A caller served as an empty cache
 * ({@code auth.anonymous miss}) is permitted nothing: {@link #require} answers its reads NOT_FOUND
 * and its writes PERMISSION_DENIED, and the two calls that answer many digests at once ask
 * {@link #emptyCacheReason} to report them all missing. Without the interceptor (in-process
 * tests, auth off) everyone is unrestricted.
 */
final class Callers implements ServerInterceptor {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<byte[]> REQUEST_METADATA = Metadata.Key.of(
      "build.bazel.remote.execution.v2.requestmetadata-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /**
   * The resolved caller; {@code missReason} is non-null for an empty-cache caller. {@code address}
   * and {@code info} (its RequestMetadata, parsed once per call) say who writes what it stores.
   */
  record Caller(Principal principal, String missReason, boolean strictReadScope, String address,
      dev.buckcache.insight.RequestInfo info) {}

  static final Context.Key<Caller> CALLER = Context.key("buckcache-caller");

  private final CallerResolver resolver;
  private final boolean strictReadScope;

  Callers(CallerResolver resolver, boolean strictReadScope) {
    this.resolver = resolver;
    this.strictReadScope = strictReadScope;
  }

  private static java.security.cert.Certificate[] peer(ServerCall<?, ?> call) {
    var session = call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_SSL_SESSION);
    try {
      return session == null ? null : session.getPeerCertificates();
    } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
      return null;
    }
  }

  private static String host(ServerCall<?, ?> call) {
    var address = call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    return address instanceof java.net.InetSocketAddress a && a.getAddress() != null
        ? a.getAddress().getHostAddress() : String.valueOf(address);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    CallerResolver.Caller resolved;
    var address = host(call);
    try {
      resolved = resolver.resolve("grpc", headers.get(AUTHORIZATION), () -> peer(call), address);
    } catch (AuthException e) {
      call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    var caller = new Caller(resolved.principal(), resolved.missReason(), strictReadScope, address,
        dev.buckcache.insight.RequestInfo.parse(headers.get(REQUEST_METADATA)));
    var context = Context.current().withValue(CALLER, caller);
    return Contexts.interceptCall(context, call, headers, next);
  }

  static boolean permits(Access access, String instance) {
    var caller = CALLER.get();
    return caller == null || caller.principal().permits(access, instance, caller.strictReadScope());
  }

  /** Who writes what this call stores: subject, tool, build id, address, now. */
  static dev.buckcache.storage.Provenance writer() {
    var caller = CALLER.get();
    if (caller == null) {
      return new dev.buckcache.storage.Provenance("anonymous", "", "", "", java.time.Instant.now());
    }
    return new dev.buckcache.storage.Provenance(caller.principal().subject(), caller.info().tool(),
        caller.info().invocation(), caller.address(), java.time.Instant.now());
  }

  /** Why this caller sees an empty cache, or null when it sees the store. */
  static String emptyCacheReason() {
    var caller = CALLER.get();
    return caller == null || !caller.principal().emptyCache() ? null : caller.missReason();
  }

  /**
   * Throws PERMISSION_DENIED (Buck2 reads that as "uploads off") unless permitted; for an
   * empty-cache caller, a read is NOT_FOUND instead.
   */
  static void require(Access access, String instance) {
    if (permits(access, instance)) {
      return;
    }
    var caller = CALLER.get();
    if (caller.principal().emptyCache()) {
      var status = access == Access.READ ? Status.NOT_FOUND : Status.PERMISSION_DENIED;
      throw status.withDescription(caller.missReason()).asRuntimeException();
    }
    throw Status.PERMISSION_DENIED.withDescription(
        caller.principal().denial(access, instance)).asRuntimeException();
  }
}
