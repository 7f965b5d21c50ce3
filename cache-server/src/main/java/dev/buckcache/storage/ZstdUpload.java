package dev.buckcache.storage;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import java.nio.ByteBuffer;

/**
 * A writer that takes a zstd stream and hands the decompressed bytes to a verifying writer. The
 * output is bounded by the digest's size (the inner writer fails past it), so a zip bomb costs
 * nothing. Commit fails if the stream ended mid-frame.
 */
public final class ZstdUpload implements BlobWriter {
  /** Decompressed bytes held between the decoder and the inner writer. */
  public static final int OUTPUT_BUFFER = 128 * 1024;

  private final BlobWriter inner;
  private final ZstdDecompressCtx ctx = new ZstdDecompressCtx();
  private final ByteBuffer out = ByteBuffer.allocate(OUTPUT_BUFFER);
  private long compressedBytes;
  private boolean frameComplete = true;
  private boolean closed;

  public ZstdUpload(BlobWriter inner) {
    this.inner = inner;
  }

  @Override
  public void write(byte[] bytes, int offset, int length) {
    write(ByteBuffer.wrap(bytes, offset, length));
  }

  @Override
  public void write(ByteBuffer src) {
    if (!src.hasRemaining()) {
      return;
    }
    compressedBytes += src.remaining();
    var in = src.hasArray() ? src : copyToHeap(src); // read-only and direct buffers
    try {
      while (true) {
        // true: the frame so far is fully decoded and flushed.
        frameComplete = ctx.decompressByteBufferStream(out, in);
        boolean outputFull = !out.hasRemaining();
        drain();
        if (!in.hasRemaining() && !outputFull) {
          break; // all input consumed and the decoder had room: it holds nothing back
        }
      }
    } catch (ZstdException e) {
      close();
      throw new StorageException.ContentMismatch("body is not valid zstd: " + e.getMessage());
    }
  }

  private static ByteBuffer copyToHeap(ByteBuffer direct) {
    var heap = ByteBuffer.allocate(direct.remaining());
    heap.put(direct).flip();
    return heap;
  }

  private void drain() {
    out.flip();
    if (out.hasRemaining()) {
      inner.write(out.array(), out.arrayOffset() + out.position(), out.remaining());
    }
    out.clear();
  }

  /** Compressed bytes received. */
  @Override
  public long committedSize() {
    return compressedBytes;
  }

  @Override
  public void commit() {
    if (!frameComplete) {
      close();
      throw new StorageException.ContentMismatch("zstd body ends in the middle of a frame");
    }
    inner.commit();
    ctx.close();
    closed = true;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      inner.close();
      ctx.close();
    }
  }
}
