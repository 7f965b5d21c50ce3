package dev.buckcache.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * TLS on both ports (tls.*).
 *
 * @param cert PEM certificate chain, server first
 * @param key PEM private key (PKCS#8, SEC1 or PKCS#1)
 * @param clientCa PEM CA certificates; when set, clients must present a certificate it signed
 *     (mTLS), and its subject CN becomes their identity when they send no token
 * @param clientScope scope of callers identified by certificate alone (read, write or admin)
 * @param reloadInterval how often the files are checked for changes
 */
public record TlsConfig(Path cert, Path key, Path clientCa, String clientScope, Duration reloadInterval) {
  public boolean enabled() {
    return cert != null;
  }

  public boolean mutual() {
    return clientCa != null;
  }
}
