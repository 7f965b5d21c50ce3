package dev.buckcache.storage;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.Hasher;
import dev.buckcache.digest.Hex;
import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * Hashes and counts an upload on its way to a sink, and lets the sink commit only when size and
 * hash match the digest. Too many bytes fail at once, before they reach the disk.
 *
 * <p>A wrong 64-hex hash usually means the client hashes with the other 64-hex function (Buck2
 * sends no digest function, so a BLAKE3 repo against a SHA-256 instance). The error then says
 * so. Hashing every upload twice would double the CPU of the write path, so the other function
 * runs only after a mismatch, and only over a copy the sink already keeps (small blobs, for the
 * memory tier); for a large streamed blob, which cannot be re-read, the hint is phrased as a
 * condition instead of a finding.
 */
final class VerifyingWriter implements BlobWriter {
  /** Where verified bytes go: the disk tier, or nowhere when the blob is already stored. */
  interface Sink {
    void write(byte[] bytes, int offset, int length);

    /**
     * Takes all of {@code bytes} as they are (a direct buffer goes to a file without a copy to the
     * heap) and returns true, or takes nothing and returns false: then they come as an array.
     */
    default boolean write(ByteBuffer bytes) {
      return false;
    }

    void commit();

    void abort();

    /** The whole content written so far if the sink kept a copy anyway, else null. */
    default byte[] whole() {
      return null;
    }
  }

  /** A sink that stores nothing; {@code whole} is the content the caller already holds, or null. */
  @SuppressWarnings("ArrayRecordComponent") // the content as given, never compared
  private record Held(byte[] whole) implements Sink {
    @Override
    public void write(byte[] bytes, int offset, int length) {}

    @Override
    public void commit() {}

    @Override
    public void abort() {}
  }

  static final Sink DISCARD = new Held(null);

  /**
   * Checks content held whole in memory against its digest; throws what an upload of it would.
   * The content is the sink's copy, so a mismatch can name the other 64-hex function.
   */
  static void verify(Digest expected, byte[] content) {
    var writer = new VerifyingWriter(expected, new Held(content));
    writer.write(content, 0, content.length);
    writer.commit();
  }

  private final Digest expected;
  private final Hasher hasher;
  private final Sink sink;
  private long received;
  private boolean finished;
  private byte[] scratch;

  VerifyingWriter(Digest expected, Sink sink) {
    this.expected = expected;
    this.hasher = expected.function().newHasher();
    this.sink = sink;
  }

  @Override
  public void write(byte[] bytes, int offset, int length) {
    checkOpen();
    if (received + length > expected.size()) {
      close();
      throw new StorageException.ContentMismatch(
          "received more than the " + expected.size() + " bytes that digest " + expected
              + " declares");
    }
    hasher.update(bytes, offset, length);
    sink.write(bytes, offset, length);
    received += length;
  }

  @Override
  public void write(ByteBuffer bytes) {
    if (!bytes.hasArray()) {
      checkOpen();
      int length = bytes.remaining();
      if (received + length <= expected.size()) {
        var view = bytes.duplicate();
        if (sink.write(view)) {
          hasher.update(bytes);
          received += length;
          return;
        }
      }
    }
    if (bytes.hasArray()) {
      write(bytes.array(), bytes.arrayOffset() + bytes.position(), bytes.remaining());
      bytes.position(bytes.limit());
      return;
    }
    if (scratch == null) {
      scratch = new byte[Math.min(bytes.remaining(), 256 * 1024)];
    }
    while (bytes.hasRemaining()) {
      int n = Math.min(scratch.length, bytes.remaining());
      bytes.get(scratch, 0, n);
      write(scratch, 0, n);
    }
  }

  @Override
  public long committedSize() {
    return received;
  }

  @Override
  public void commit() {
    checkOpen();
    if (received != expected.size()) {
      close();
      throw new StorageException.ContentMismatch(
          "received " + received + " bytes but digest " + expected + " declares "
              + expected.size());
    }
    var actual = Hex.encode(hasher.finish());
    if (!actual.equals(expected.hash())) {
      var message = mismatch(actual);
      close();
      throw new StorageException.ContentMismatch(message);
    }
    finished = true;
    try {
      sink.commit();
    } catch (RuntimeException e) {
      sink.abort(); // e.g. no room for the last chunk: the pending write must not outlive us
      throw e;
    }
  }

  /** One line: what the content hashes to, and whether the other 64-hex function explains it. */
  private String mismatch(String actual) {
    var fn = expected.function();
    var line = "content hashes to " + actual + " under " + name(fn) + ", not to the digest's "
        + expected.hash();
    var other = fn == DigestFunction.SHA256 ? DigestFunction.BLAKE3
        : fn == DigestFunction.BLAKE3 ? DigestFunction.SHA256 : null;
    if (other == null) {
      return line;
    }
    var setting = "set --digest-instances NAME=" + other.name().toLowerCase(Locale.ROOT)
        + " for the client's instance (or --digest-default " + other.name().toLowerCase(Locale.ROOT) + ")";
    var whole = sink.whole();
    if (whole == null) {
      return line + "; if this client uses " + name(other) + ", " + setting;
    }
    if (other.hash(whole).equals(expected.hash())) {
      return line + "; it does hash to that under " + name(other) + ": this client uses "
          + name(other) + ", " + setting;
    }
    return line + " (nor under " + name(other) + "): the content is not what the digest names";
  }

  private static String name(DigestFunction fn) {
    return switch (fn) {
      case SHA256 -> "SHA-256";
      case SHA1 -> "SHA-1";
      case SHA384 -> "SHA-384";
      case SHA512 -> "SHA-512";
      case BLAKE3 -> "BLAKE3";
    };
  }

  private void checkOpen() {
    if (finished) {
      throw new IllegalStateException("writer for " + expected + " is already closed");
    }
  }

  @Override
  public void close() {
    if (!finished) {
      finished = true;
      sink.abort();
    }
  }
}
