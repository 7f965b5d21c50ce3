package dev.buckcache.auth;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/** Key pairs and tokens for the admin CLI ({@code buckcache keygen}, {@code token issue}). */
public final class Keys {
  private Keys() {}

  /** A fresh ES256 (P-256) key pair. */
  public static KeyPair generateEs256() {
    try {
      var generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("the JVM cannot make EC P-256 keys", e);
    }
  }

  /** Key id: the first 16 characters of the base64url SHA-256 of the public key. */
  public static String kid(PublicKey key) {
    try {
      var hash = MessageDigest.getInstance("SHA-256").digest(key.getEncoded());
      return Base64.getUrlEncoder().withoutPadding().encodeToString(hash).substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A signed token; the algorithm follows the key (EC: ES256, RSA: RS256). */
  public static String issue(KeyPair keys, String subject, Scope scope, List<String> instances,
      Duration ttl, String audience, String issuer, Instant now) {
    com.auth0.jwt.algorithms.Algorithm algorithm;
    if (keys.getPrivate() instanceof java.security.interfaces.ECPrivateKey ec) {
      algorithm = com.auth0.jwt.algorithms.Algorithm.ECDSA256(
          (java.security.interfaces.ECPublicKey) keys.getPublic(), ec);
    } else if (keys.getPrivate() instanceof java.security.interfaces.RSAPrivateKey rsa) {
      algorithm = com.auth0.jwt.algorithms.Algorithm.RSA256(
          (java.security.interfaces.RSAPublicKey) keys.getPublic(), rsa);
    } else {
      throw new IllegalArgumentException("signing key must be EC P-256 or RSA");
    }
    var builder = com.auth0.jwt.JWT.create()
        .withKeyId(kid(keys.getPublic()))
        .withSubject(subject)
        .withClaim("scope", scope.label())
        .withIssuedAt(now)
        .withNotBefore(now)
        .withExpiresAt(now.plus(ttl))
        .withJWTId(UUID.randomUUID().toString());
    if (!instances.isEmpty()) {
      builder.withArrayClaim("instances", instances.toArray(String[]::new));
    }
    if (audience != null) {
      builder.withAudience(audience);
    }
    if (issuer != null) {
      builder.withIssuer(issuer);
    }
    return builder.sign(algorithm);
  }

  /** Decodes a token's header and claims as JSON text, without checking the signature. */
  public static String inspect(String token) {
    var jwt = com.auth0.jwt.JWT.decode(token);
    var header = new String(Base64.getUrlDecoder().decode(jwt.getHeader()), StandardCharsets.UTF_8);
    var payload = new String(Base64.getUrlDecoder().decode(jwt.getPayload()), StandardCharsets.UTF_8);
    return "header: " + header + "\nclaims: " + payload;
  }
}
