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
 * contexts, and the scratch a frame is compressed into, are pooled: making them per chunk would
 * dominate small writes, and zeroing a fresh 1 MiB array per chunk showed in a 64 MiB PUT's
 * profile.
 *
 * <p>A writer that keeps its chunk one byte in from the start of its buffer ({@link #encodeSlot})
 * stores a raw chunk from that buffer as it is, the tag in the spare byte: no copy. Once a chunk of
 * an upload proved incompressible, the next one is first tried on a sample, its first sixteenth
 * (64 KiB of a 1 MiB chunk), and compressed whole only if the sample shrinks: zstd over data it cannot shrink (media,
 * archives, already-compressed outputs) cost a sixth of the write path for nothing.
 */
final class ChunkCodec {
  private static final byte TAG_RAW = 0;
  private static final byte TAG_ZSTD = 1;
  private static final int MIN_COMPRESS = 64;

  private final boolean compress;
  private final int level;
  private final ConcurrentLinkedQueue<Compressor> compressors = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<ZstdDecompressCtx> decompressors =
      new ConcurrentLinkedQueue<>();

  ChunkCodec(boolean compress, int level) {
    this.compress = compress;
    this.level = level;
  }

  /** An encoded chunk: {@code value[0, length)} is what is stored. */
  @SuppressWarnings("ArrayRecordComponent") // a byte carrier: never compared or hashed
  record Encoded(byte[] value, int length, boolean compressed) {
    /** The stored bytes as an array of their own length (a WriteBatch takes no array range). */
    byte[] exact() {
      return length == value.length ? value : Arrays.copyOf(value, length);
    }
  }

  /** A chunk's stored value as one new array (the raw bytes copied after the tag). */
  byte[] encode(byte[] raw, int length) {
    if (compress && length >= MIN_COMPRESS) {
      var packed = zstd(raw, 0, length, length);
      if (packed != null) {
        return packed;
      }
    }
    var out = new byte[length + 1];
    out[0] = TAG_RAW;
    System.arraycopy(raw, 0, out, 1, length);
    return out;
  }

  /**
   * Encodes the chunk in {@code slot[1, 1 + length)}; {@code slot[0]} is free for the tag. A raw
   * chunk is {@code slot} itself, tagged. With {@code sampleFirst}, a sample is tried before the
   * whole chunk (see the class comment).
   */
  Encoded encodeSlot(byte[] slot, int length, boolean sampleFirst) {
    int sample = length / 16;
    if (compress && length >= MIN_COMPRESS
        && !(sampleFirst && sample >= MIN_COMPRESS && zstd(slot, 1, sample, 0) == null)) {
      var packed = zstd(slot, 1, length, length);
      if (packed != null) {
        return new Encoded(packed, packed.length, true);
      }
    }
    slot[0] = TAG_RAW;
    return new Encoded(slot, length + 1, false);
  }

  /**
   * {@code raw[offset, offset + length)} as a tagged zstd value, or null when it does not shrink by
   * 1/32. With {@code keep} 0 only the size is tried, and a non-null answer is an empty array.
   */
  private byte[] zstd(byte[] raw, int offset, int length, int keep) {
    var c = compressors.poll();
    if (c == null) {
      c = new Compressor(new ZstdCompressCtx().setLevel(level).setChecksum(false)
          .setContentSize(true));
    }
    try {
      int bound = (int) Zstd.compressBound(length);
      if (c.scratch.length < bound) {
        c.scratch = new byte[bound];
      }
      int n = c.ctx.compressByteArray(c.scratch, 0, bound, raw, offset, length);
      if (n >= length - length / 32) {
        return null;
      }
      if (keep == 0) {
        return new byte[0];
      }
      var out = new byte[n + 1];
      out[0] = TAG_ZSTD;
      System.arraycopy(c.scratch, 0, out, 1, n);
      return out;
    } finally {
      compressors.offer(c);
    }
  }

  /** A pooled compression context and the scratch it compresses into. */
  private static final class Compressor {
    final ZstdCompressCtx ctx;
    byte[] scratch = new byte[0];

    Compressor(ZstdCompressCtx ctx) {
      this.ctx = ctx;
    }
  }

  /** Whether a stored chunk that starts with this byte holds its bytes raw, after the tag. */
  boolean isRaw(byte tag) {
    return tag == TAG_RAW;
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

  void close() {
    compressors.forEach(c -> c.ctx.close());
    decompressors.forEach(ZstdDecompressCtx::close);
  }
}
