package dev.buckcache.grpc;

import dev.buckcache.auth.Access;
import dev.buckcache.auth.AuthException;
import dev.buckcache.auth.Authenticator;
import dev.buckcache.auth.Principal;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who is calling: the interceptor authenticates the {@code authorization} metadata and puts the
 * caller in the call's Context; services ask {@link #require} before they act. Without the
 * interceptor (in-process tests, auth off) everyone is unrestricted.
 */
final class Callers implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(Callers.class);
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  record Caller(Principal principal, boolean strictReadScope) {}

  static final Context.Key<Caller> CALLER = Context.key("buckcache-caller");

  private final Authenticator authenticator;
  private final boolean strictReadScope;
  private final java.util.function.Function<java.security.cert.Certificate[], Principal> certs;

  private final dev.buckcache.metrics.CacheMetrics metrics;

  Callers(Authenticator authenticator, boolean strictReadScope,
      java.util.function.Function<java.security.cert.Certificate[], Principal> certs,
      dev.buckcache.metrics.CacheMetrics metrics) {
    this.authenticator = authenticator;
    this.strictReadScope = strictReadScope;
    this.certs = certs;
    this.metrics = metrics;
  }

  private static java.security.cert.Certificate[] peer(ServerCall<?, ?> call) {
    var session = call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_SSL_SESSION);
    try {
      return session == null ? null : session.getPeerCertificates();
    } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
      return null;
    }
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    Principal principal;
    try {
      var header = headers.get(AUTHORIZATION);
      var byCertificate = header == null ? certs.apply(peer(call)) : null;
      principal = byCertificate != null ? byCertificate : authenticator.authenticate(header);
    } catch (AuthException e) {
      log.debug("{} refused: {}", call.getMethodDescriptor().getFullMethodName(), e.reason());
      if (metrics != null) {
        metrics.authFailure("grpc", e.reason().name());
      }
      call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    var context = Context.current().withValue(CALLER, new Caller(principal, strictReadScope));
    return Contexts.interceptCall(context, call, headers, next);
  }

  static boolean permits(Access access, String instance) {
    var caller = CALLER.get();
    return caller == null || caller.principal().permits(access, instance, caller.strictReadScope());
  }

  /** Throws PERMISSION_DENIED (Buck2 reads that as "uploads off") unless permitted. */
  static void require(Access access, String instance) {
    if (!permits(access, instance)) {
      throw Status.PERMISSION_DENIED.withDescription(
          CALLER.get().principal().denial(access, instance)).asRuntimeException();
    }
  }
}
