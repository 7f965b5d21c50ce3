package dev.buckcache.auth;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.buckcache.config.AuthConfig.Anonymous;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who is calling, for both front ends: the one function that turns a request's credentials (its
 * {@code Authorization} value, its client certificate) into a caller, and applies
 * {@code auth.anonymous}.
 *
 * <p>Design notes. Precedence is fixed: a token, when one is sent, decides; without one, a client
 * certificate (mTLS) does; without either, the anonymous mode does. A token that fails
 * verification is refused ({@link AuthException}, 401 / UNAUTHENTICATED) unless the mode is
 * {@code miss}: then the caller, like one without any credentials, becomes
 * {@link Principal#ANONYMOUS_MISS}, which {@link Principal#permits} nothing. Front ends render a
 * refused read of such a caller as a miss and a refused write as a refusal, so nothing stored is
 * revealed, not even existence, and a build falls back to local work instead of failing.
 *
 * <p>Every failure is counted ({@code buckcache_auth_failures_total}, by the bounded
 * {@link AuthException.Reason}). A miss is also logged at WARN, once a minute per distinct token
 * (keyed by its SHA-256, never the token) or, without one, per client host: an operator sees
 * that laptops run with expired tokens without a line per action. The bounded Caffeine map that
 * remembers what was logged runs on an injected ticker, so tests need not sleep.
 */
public final class CallerResolver {
  private static final Logger log = LoggerFactory.getLogger(CallerResolver.class);
  private static final Duration LOG_EVERY = Duration.ofMinutes(1);

  /** Counts a failed authentication; {@code buckcache_auth_failures_total}. */
  @FunctionalInterface
  public interface FailureCounter {
    void count(String protocol, AuthException.Reason reason);

    FailureCounter NONE = (protocol, reason) -> {};
  }

  /**
   * A resolved caller.
   *
   * @param principal who, and what it may do
   * @param missReason for {@link Principal#ANONYMOUS_MISS}: one line saying what was wrong and what
   *     to do, without the token; null otherwise
   * @param failure for {@link Principal#ANONYMOUS_MISS}: why its credentials were not accepted
   */
  public record Caller(Principal principal, String missReason, AuthException failure) {
    public boolean emptyCache() {
      return principal.emptyCache();
    }

    /** The one line a refused call gets: the miss reason, or the principal's denial. */
    public String refusal(Access access, String instance) {
      return emptyCache() ? missReason : principal.denial(access, instance);
    }
  }

  private final Authenticator authenticator;
  private final Anonymous mode;
  private final Function<Certificate[], Principal> certificates;
  private final FailureCounter failures;
  private final Consumer<String> warnings;
  private final Cache<String, Boolean> logged;

  /**
   * @param certificates the principal of a verified client certificate chain, or null
   * @param ticker time for the once-a-minute logging
   * @param warnings where miss lines go (the log at WARN in production)
   */
  public CallerResolver(Authenticator authenticator, Anonymous mode,
      Function<Certificate[], Principal> certificates, FailureCounter failures, Ticker ticker,
      Consumer<String> warnings) {
    this.authenticator = requireNonNull(authenticator, "authenticator");
    this.mode = requireNonNull(mode, "mode");
    this.certificates = requireNonNull(certificates, "certificates");
    this.failures = requireNonNull(failures, "failures");
    this.warnings = requireNonNull(warnings, "warnings");
    this.logged = Caffeine.newBuilder().maximumSize(10_000).expireAfterWrite(LOG_EVERY)
        .ticker(requireNonNull(ticker, "ticker")).build();
  }

  /** For production: the system ticker, warnings to the log. */
  public CallerResolver(Authenticator authenticator, Anonymous mode,
      Function<Certificate[], Principal> certificates, FailureCounter failures) {
    this(authenticator, mode, certificates, failures, Ticker.systemTicker(), log::warn);
  }

  /** Today's default: no usable token, no access. */
  public static CallerResolver deny(Authenticator authenticator,
      Function<Certificate[], Principal> certificates) {
    return new CallerResolver(authenticator, Anonymous.DENY, certificates, FailureCounter.NONE);
  }

  public Anonymous mode() {
    return mode;
  }

  /**
   * Who is calling: the token decides when one is sent, else the client certificate, else the
   * anonymous mode. Every refused credential is counted, whatever the mode.
   *
   * @param protocol {@code http} or {@code grpc}, for metrics and logs
   * @param authorization the header value, or null when absent
   * @param peer the client's certificate chain (asked for only without a token), or null
   * @param clientHost the client's address, for logs of callers without a token
   * @throws AuthException the caller is refused (401 / UNAUTHENTICATED)
   */
  public Caller resolve(String protocol, String authorization, Supplier<Certificate[]> peer,
      String clientHost) throws AuthException {
    if (authorization == null) {
      var byCertificate = certificates.apply(peer.get());
      if (byCertificate != null) {
        return new Caller(byCertificate, null, null);
      }
      if (mode == Anonymous.READ) {
        return new Caller(Principal.ANONYMOUS_READER, null, null);
      }
    }
    try {
      return new Caller(authenticator.authenticate(authorization), null, null);
    } catch (AuthException e) {
      failures.count(protocol, e.reason());
      if (mode != Anonymous.MISS) {
        log.debug("{} caller at {} refused: {}", protocol, clientHost, e.reason());
        throw e;
      }
      return miss(protocol, authorization, clientHost, e);
    }
  }

  private Caller miss(String protocol, String authorization, String clientHost, AuthException e) {
    var what = e.reason() == AuthException.Reason.MISSING ? "no token" : e.getMessage();
    var reason = what + ": " + e.reason().remedy() + " (served as an anonymous cache miss)";
    var key = authorization == null ? "host " + clientHost : "token " + StaticTokens.hash(authorization);
    if (logged.asMap().putIfAbsent(key, Boolean.TRUE) == null) {
      warnings.accept(protocol + " caller at " + clientHost + ": " + reason
          + "; not logged again for this " + (authorization == null ? "host" : "token")
          + " within a minute");
    }
    return new Caller(Principal.ANONYMOUS_MISS, reason, e);
  }
}
