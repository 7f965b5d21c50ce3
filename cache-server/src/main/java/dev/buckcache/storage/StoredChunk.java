package dev.buckcache.storage;

/**
 * One piece of a blob as it lies on disk: either raw bytes or one zstd frame. Concatenated zstd
 * frames form a valid zstd stream, so a front end can serve a compressed read chunk by chunk.
 */
@SuppressWarnings("ArrayRecordComponent") // a byte carrier: never compared or hashed
public record StoredChunk(Encoding encoding, byte[] bytes, int rawLength) {

  /**
   * This piece as one zstd frame, for a client that accepts zstd: a stored frame as it is, raw
   * bytes wrapped in a frame of raw blocks (no compression work on the read path either way).
   */
  public byte[] zstdFrame() {
    return encoding == Encoding.ZSTD ? bytes : ZstdFrames.rawFrame(bytes);
  }

  /** Raw bytes as a piece; null for null (the end of a reader). */
  public static StoredChunk raw(byte[] bytes) {
    return bytes == null ? null : new StoredChunk(Encoding.RAW, bytes, bytes.length);
  }

  /** A whole blob as a zstd stream of its stored frames (for answers built in memory). */
  public static byte[] zstdStream(BlobReader reader) {
    var out = new java.io.ByteArrayOutputStream((int) Math.min(reader.size() + 64, 1 << 20));
    for (var chunk = reader.nextStored(); chunk != null; chunk = reader.nextStored()) {
      out.writeBytes(chunk.zstdFrame());
    }
    return out.toByteArray();
  }

  public enum Encoding {
    RAW,
    ZSTD
  }
}
