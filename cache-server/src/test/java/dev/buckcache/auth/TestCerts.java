package dev.buckcache.auth;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** Certificates made in the test: a CA, server and client certificates it signs. */
public final class TestCerts {
  public final KeyPair caKeys = Keys.generateEs256();
  public final X509Certificate ca;

  public TestCerts() throws Exception {
    ca = build(caKeys, caKeys, new X500Name("CN=buckcache test CA"), new X500Name("CN=buckcache test CA"),
        BigInteger.ONE, true, null, null);
  }

  public X509Certificate server(KeyPair keys, long serial) throws Exception {
    var names = new GeneralNames(new GeneralName[] {
        new GeneralName(GeneralName.dNSName, "localhost"),
        new GeneralName(GeneralName.iPAddress, "127.0.0.1")});
    return build(keys, caKeys, new X500Name("CN=buckcache test CA"), new X500Name("CN=localhost"),
        BigInteger.valueOf(serial), false, names, KeyPurposeId.id_kp_serverAuth);
  }

  public X509Certificate client(KeyPair keys, String cn) throws Exception {
    return build(keys, caKeys, new X500Name("CN=buckcache test CA"), new X500Name("CN=" + cn),
        BigInteger.valueOf(System.nanoTime()), false, null, KeyPurposeId.id_kp_clientAuth);
  }

  private static X509Certificate build(KeyPair subject, KeyPair issuerKeys, X500Name issuer,
      X500Name name, BigInteger serial, boolean ca, GeneralNames san, KeyPurposeId purpose)
      throws Exception {
    var now = Instant.now();
    var builder = new JcaX509v3CertificateBuilder(issuer, serial, Date.from(now.minus(Duration.ofHours(1))),
        Date.from(now.plus(Duration.ofDays(2))), name, subject.getPublic());
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
    if (san != null) {
      builder.addExtension(Extension.subjectAlternativeName, false, san);
    }
    if (purpose != null) {
      builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
    }
    var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate());
    return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
  }

  public static void write(Path file, Object pemObject) throws Exception {
    Files.writeString(file, Pem.encode(pemObject));
  }
}
