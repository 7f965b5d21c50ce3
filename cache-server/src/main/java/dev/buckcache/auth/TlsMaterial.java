package dev.buckcache.auth;

import dev.buckcache.config.TlsConfig;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.naming.ldap.LdapName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's certificate and, for mTLS, the client CA, shared by both ports. The files are
 * checked every reload interval and swapped in when they change: a renewed certificate needs no
 * restart, and a broken file keeps the previous one (with a warning). TLS 1.2 and 1.3 only.
 */
public final class TlsMaterial implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TlsMaterial.class);
  private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

  private final TlsConfig config;
  private final AdvancedTlsX509KeyManager keyManager = new AdvancedTlsX509KeyManager();
  private final AdvancedTlsX509TrustManager trustManager;
  private final ScheduledExecutorService watcher;
  private final Scope clientScope;
  private long stamp;

  private TlsMaterial(TlsConfig config) throws IOException, GeneralSecurityException {
    this.config = config;
    this.clientScope = Scope.parse(config.clientScope());
    this.trustManager = config.mutual()
        ? AdvancedTlsX509TrustManager.newBuilder()
            .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION)
            .build()
        : null;
    load();
    this.watcher = Executors.newSingleThreadScheduledExecutor(r -> {
      var t = new Thread(r, "buckcache-tls-reload");
      t.setDaemon(true);
      return t;
    });
    long every = config.reloadInterval().toMillis();
    // reloadIfChanged logs its own failures; the watcher stops with close().
    var unused = watcher.scheduleWithFixedDelay(this::reloadIfChanged, every, every,
        TimeUnit.MILLISECONDS);
  }

  /** Reads the files; fails with a message naming the file on any problem. */
  public static TlsMaterial load(TlsConfig config) throws IOException {
    try {
      return new TlsMaterial(config);
    } catch (GeneralSecurityException e) {
      throw new IOException("TLS files are not usable: " + e.getMessage(), e);
    }
  }

  private long currentStamp() throws IOException {
    long s = 0;
    for (var f : config.mutual() ? new Path[] {config.cert(), config.key(), config.clientCa()}
        : new Path[] {config.cert(), config.key()}) {
      s = s * 31 + Files.getLastModifiedTime(f).toMillis() + Files.size(f);
    }
    return s;
  }

  private void load() throws IOException, GeneralSecurityException {
    long s = currentStamp();
    var chain = certificates(config.cert());
    var key = Pem.readPrivate(config.key());
    keyManager.updateIdentityCredentials(chain, key);
    if (trustManager != null) {
      trustManager.updateTrustCredentials(certificates(config.clientCa()));
    }
    stamp = s;
  }

  private void reloadIfChanged() {
    try {
      if (currentStamp() != stamp) {
        load();
        log.info("TLS certificate reloaded from {}", config.cert());
      }
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      log.warn("TLS files changed but cannot be loaded, keeping the previous ones: {}", e.getMessage());
    }
  }

  private static X509Certificate[] certificates(Path file) throws IOException, GeneralSecurityException {
    try (InputStream in = Files.newInputStream(file)) {
      var certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (certs.isEmpty()) {
        throw new IOException(file + " holds no certificate");
      }
      return certs.stream().map(c -> (X509Certificate) c).toArray(X509Certificate[]::new);
    }
  }

  private SslContextBuilder base(SslContextBuilder builder) {
    builder.sslProvider(SslProvider.JDK).protocols(PROTOCOLS);
    if (trustManager != null) {
      builder.trustManager(trustManager).clientAuth(ClientAuth.REQUIRE);
    }
    return builder;
  }

  public SslContext httpContext() throws IOException {
    return base(SslContextBuilder.forServer(keyManager)).build();
  }

  /**
   * The HTTP port's context when it also serves gRPC: ALPN offers {@code http/1.1} first, then
   * {@code h2}, so a client that offers both (curl, browsers, Java's HttpClient) gets HTTP/1.1,
   * and a gRPC client, which offers only h2, gets h2. The protocol is then told apart by the
   * first bytes, as in cleartext.
   */
  public SslContext sharedPortContext() throws IOException {
    return base(SslContextBuilder.forServer(keyManager)).applicationProtocolConfig(
        new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_1_1, ApplicationProtocolNames.HTTP_2)).build();
  }

  public SslContext grpcContext() throws IOException {
    return base(GrpcSslContexts.configure(SslContextBuilder.forServer(keyManager), SslProvider.JDK)).build();
  }

  /** The principal of a client certificate (mTLS), named {@code cert:CN}; null without one. */
  public Principal clientPrincipal(java.security.cert.Certificate[] peer) {
    if (peer == null || peer.length == 0 || !(peer[0] instanceof X509Certificate cert)) {
      return null;
    }
    return new Principal("cert:" + commonName(cert), clientScope, Set.of(), cert.getNotAfter().toInstant());
  }

  private static String commonName(X509Certificate cert) {
    var dn = cert.getSubjectX500Principal().getName();
    try {
      for (var rdn : new LdapName(dn).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          return String.valueOf(rdn.getValue());
        }
      }
    } catch (javax.naming.InvalidNameException e) {
      // fall through to the whole name
    }
    return dn;
  }

  @Override
  public void close() {
    watcher.shutdownNow();
  }
}
