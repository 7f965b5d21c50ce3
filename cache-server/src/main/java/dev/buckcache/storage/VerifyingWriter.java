package dev.buckcache.storage;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.Hasher;
import dev.buckcache.digest.Hex;
import java.nio.ByteBuffer;

/**
 * Hashes and counts an upload on its way to a sink, and lets the sink commit only when size and
 * hash match the digest. Too many bytes fail at once, before they reach the disk.
 */
final class VerifyingWriter implements BlobWriter {
  /** Where verified bytes go: the disk tier, or nowhere when the blob is already stored. */
  interface Sink {
    void write(byte[] bytes, int offset, int length);

    void commit();

    void abort();
  }

  static final Sink DISCARD =
      new Sink() {
        @Override
        public void write(byte[] bytes, int offset, int length) {}

        @Override
        public void commit() {}

        @Override
        public void abort() {}
      };

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
      close();
      throw new StorageException.ContentMismatch(
          "content hashes to " + actual + ", not to the digest's " + expected.hash());
    }
    finished = true;
    sink.commit();
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
