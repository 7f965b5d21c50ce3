package dev.buckcache.storage.disk;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import dev.buckcache.storage.StorageException;
import dev.buckcache.storage.StoredChunk;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Encodes chunks for disk: a one-byte tag, then raw bytes or one zstd frame. Data that zstd does
 * not shrink by at least 1/32 is stored raw, so incompressible blobs cost no CPU to read. Native
 * contexts are pooled: creating one per chunk would dominate small writes.
 */
final class ChunkCodec {
  private static final byte TAG_RAW = 0;
  private static final byte TAG_ZSTD = 1;
  private static final int MIN_COMPRESS = 64;

  private final boolean compress;
  private final int level;
  private final ConcurrentLinkedQueue<ZstdCompressCtx> compressors = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<ZstdDecompressCtx> decompressors =
      new ConcurrentLinkedQueue<>();

  ChunkCodec(boolean compress, int level) {
    this.compress = compress;
    this.level = level;
  }

  byte[] encode(byte[] raw, int length) {
    if (compress && length >= MIN_COMPRESS) {
      var packed = zstd(raw, length);
      if (packed.length < length - length / 32) {
        return tagged(TAG_ZSTD, packed, packed.length);
      }
    }
    return tagged(TAG_RAW, raw, length);
  }

  StoredChunk toStored(byte[] value, int rawLength) {
    var payload = Arrays.copyOfRange(value, 1, value.length);
    var encoding = value[0] == TAG_ZSTD ? StoredChunk.Encoding.ZSTD : StoredChunk.Encoding.RAW;
    return new StoredChunk(encoding, payload, rawLength);
  }

  byte[] decode(byte[] value, int rawLength) {
    if (value[0] == TAG_RAW) {
      return Arrays.copyOfRange(value, 1, value.length);
    }
    var ctx = decompressors.poll();
    if (ctx == null) {
      ctx = new ZstdDecompressCtx();
    }
    try {
      var out = new byte[rawLength];
      int n = ctx.decompressByteArray(out, 0, rawLength, value, 1, value.length - 1);
      if (n != rawLength) {
        throw new StorageException.Failure(
            "corrupt chunk: decompressed to " + n + " bytes, expected " + rawLength, null);
      }
      return out;
    } finally {
      decompressors.offer(ctx);
    }
  }

  private byte[] zstd(byte[] raw, int length) {
    var ctx = compressors.poll();
    if (ctx == null) {
      ctx = new ZstdCompressCtx().setLevel(level).setChecksum(false).setContentSize(true);
    }
    try {
      var out = new byte[(int) Zstd.compressBound(length)];
      int n = ctx.compressByteArray(out, 0, out.length, raw, 0, length);
      return n == out.length ? out : Arrays.copyOf(out, n);
    } finally {
      compressors.offer(ctx);
    }
  }

  private static byte[] tagged(byte tag, byte[] payload, int length) {
    var out = new byte[length + 1];
    out[0] = tag;
    System.arraycopy(payload, 0, out, 1, length);
    return out;
  }

  void close() {
    compressors.forEach(ZstdCompressCtx::close);
    decompressors.forEach(ZstdDecompressCtx::close);
  }
}
