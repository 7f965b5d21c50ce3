package dev.buckcache.storage;

/**
 * One piece of a blob as it lies on disk: either raw bytes or one zstd frame. Concatenated zstd
 * frames form a valid zstd stream, so a front end can serve a compressed read chunk by chunk.
 */
@SuppressWarnings("ArrayRecordComponent") // a byte carrier: never compared or hashed
public record StoredChunk(Encoding encoding, byte[] bytes, int rawLength) {

  public enum Encoding {
    RAW,
    ZSTD
  }
}
