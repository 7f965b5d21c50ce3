package dev.buckcache.auth;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.util.io.pem.PemObjectGenerator;

/** PEM keys in and out (bouncycastle): PKCS#8 and SEC1 private keys, X.509 public keys. */
public final class Pem {
  private static final JcaPEMKeyConverter CONVERTER = new JcaPEMKeyConverter();

  private Pem() {}

  /**
   * PEM text of a public key, or of a key pair: the PKCS#8 private key followed by its public key
   * (the JDK's EC encoding drops the public point, and token issuing needs it for the key id).
   */
  public static String encode(Object key) {
    if (key instanceof KeyPair pair) {
      try {
        return encode(new JcaPKCS8Generator(pair.getPrivate(), null)) + encode(pair.getPublic());
      } catch (org.bouncycastle.util.io.pem.PemGenerationException e) {
        throw new IllegalStateException(e);
      }
    }
    var out = new StringWriter();
    try (var writer = new JcaPEMWriter(out)) {
      if (key instanceof PemObjectGenerator generator) {
        writer.writeObject(generator);
      } else {
        writer.writeObject(key);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toString();
  }

  /** The objects in a PEM file; a malformed file is an error naming it. */
  private static List<Object> objects(Path file) throws IOException {
    var text = Files.readString(file);
    try (var parser = new PEMParser(new StringReader(text))) {
      var out = new ArrayList<Object>();
      for (var o = parser.readObject(); o != null; o = parser.readObject()) {
        out.add(o);
      }
      return out;
    } catch (IOException | RuntimeException e) {
      throw new IOException(file + " is not valid PEM: " + e.getMessage(), e);
    }
  }

  public static PublicKey readPublic(Path file) throws IOException {
    var objects = objects(file);
    var object = objects.isEmpty() ? null : objects.get(0);
    if (object instanceof SubjectPublicKeyInfo info) {
      return CONVERTER.getPublicKey(info);
    }
    if (object instanceof X509CertificateHolder cert) {
      return CONVERTER.getPublicKey(cert.getSubjectPublicKeyInfo());
    }
    throw new IOException(file + " is not a PEM public key");
  }

  /** The private key in a PEM file: PKCS#8, SEC1 (EC PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY). */
  public static PrivateKey readPrivate(Path file) throws IOException {
    for (var o : objects(file)) {
      if (o instanceof PrivateKeyInfo info) {
        return CONVERTER.getPrivateKey(info);
      }
      if (o instanceof PEMKeyPair pair) {
        return CONVERTER.getPrivateKey(pair.getPrivateKeyInfo());
      }
    }
    throw new IOException(file + " holds no PEM private key");
  }

  /** A key pair from a file holding a private key and its public key (what keygen writes). */
  public static KeyPair readKeyPair(Path file) throws IOException {
    PrivateKey privateKey = null;
    PublicKey publicKey = null;
    for (var o : objects(file)) {
      if (o instanceof PrivateKeyInfo info) {
        privateKey = CONVERTER.getPrivateKey(info);
      } else if (o instanceof PEMKeyPair pair && pair.getPublicKeyInfo() != null) {
        var kp = CONVERTER.getKeyPair(pair);
        privateKey = kp.getPrivate();
        publicKey = kp.getPublic();
      } else if (o instanceof PEMKeyPair pair) {
        privateKey = CONVERTER.getPrivateKey(pair.getPrivateKeyInfo());
      } else if (o instanceof SubjectPublicKeyInfo info) {
        publicKey = CONVERTER.getPublicKey(info);
      }
    }
    if (privateKey == null || publicKey == null) {
      throw new IOException(file + " must hold a private key and its public key, as the "
          + "signing-key.pem from buckcache keygen does");
    }
    return new KeyPair(publicKey, privateKey);
  }
}
