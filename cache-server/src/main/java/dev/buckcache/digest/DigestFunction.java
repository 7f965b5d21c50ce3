package dev.buckcache.digest;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Optional;
import org.bouncycastle.crypto.digests.Blake3Digest;

/**
 * The hash functions a client may name a blob by. The {@code id} is part of every storage key and
 * must never change; {@code reapiNumber} is the REAPI {@code DigestFunction.Value} number.
 */
public enum DigestFunction {
  SHA256(1, 1, 32, "SHA-256"),
  SHA1(2, 2, 20, "SHA-1"),
  SHA384(3, 5, 48, "SHA-384"),
  SHA512(4, 6, 64, "SHA-512"),
  BLAKE3(5, 9, 32, null);

  private final byte id;
  private final int reapiNumber;
  private final int hashBytes;
  private final String jcaName;
  private final String emptyHash;

  DigestFunction(int id, int reapiNumber, int hashBytes, String jcaName) {
    this.id = (byte) id;
    this.reapiNumber = reapiNumber;
    this.hashBytes = hashBytes;
    this.jcaName = jcaName;
    this.emptyHash = Hex.encode(newHasher().finish());
  }

  public byte id() {
    return id;
  }

  public int reapiNumber() {
    return reapiNumber;
  }

  public int hashBytes() {
    return hashBytes;
  }

  public int hexLength() {
    return hashBytes * 2;
  }

  /** The hash of the empty blob, which every store holds without storing it. */
  public String emptyHash() {
    return emptyHash;
  }

  public Hasher newHasher() {
    return jcaName == null ? new Blake3Hasher() : new JcaHasher(jcaName);
  }

  public String hash(byte[] bytes) {
    var hasher = newHasher();
    hasher.update(bytes, 0, bytes.length);
    return Hex.encode(hasher.finish());
  }

  public static Optional<DigestFunction> byId(byte id) {
    for (var f : values()) {
      if (f.id == id) {
        return Optional.of(f);
      }
    }
    return Optional.empty();
  }

  public static Optional<DigestFunction> byReapiNumber(int number) {
    for (var f : values()) {
      if (f.reapiNumber == number) {
        return Optional.of(f);
      }
    }
    return Optional.empty();
  }

  /** Parses a name as users write it in config: {@code sha256}, {@code SHA-256}, {@code blake3}. */
  public static DigestFunction parse(String name) {
    var normalized = name.trim().toUpperCase(Locale.ROOT).replace("-", "");
    for (var f : values()) {
      if (f.name().equals(normalized)) {
        return f;
      }
    }
    throw new IllegalArgumentException(
        "unknown digest function '" + name + "' (use sha256, sha1, sha384, sha512 or blake3)");
  }

  private static final class JcaHasher implements Hasher {
    private final MessageDigest digest;

    JcaHasher(String name) {
      try {
        digest = MessageDigest.getInstance(name);
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("JVM lacks " + name, e);
      }
    }

    @Override
    public void update(byte[] bytes, int offset, int length) {
      digest.update(bytes, offset, length);
    }

    @Override
    public void update(ByteBuffer bytes) {
      digest.update(bytes);
    }

    @Override
    public byte[] finish() {
      return digest.digest();
    }
  }

  private static final class Blake3Hasher implements Hasher {
    private final Blake3Digest digest = new Blake3Digest(256);

    @Override
    public void update(byte[] bytes, int offset, int length) {
      digest.update(bytes, offset, length);
    }

    @Override
    public void update(ByteBuffer bytes) {
      if (bytes.hasArray()) {
        digest.update(bytes.array(), bytes.arrayOffset() + bytes.position(), bytes.remaining());
        bytes.position(bytes.limit());
        return;
      }
      var chunk = new byte[Math.min(bytes.remaining(), 64 * 1024)];
      while (bytes.hasRemaining()) {
        int n = Math.min(chunk.length, bytes.remaining());
        bytes.get(chunk, 0, n);
        digest.update(chunk, 0, n);
      }
    }

    @Override
    public byte[] finish() {
      var out = new byte[32];
      digest.doFinal(out, 0);
      return out;
    }
  }
}
