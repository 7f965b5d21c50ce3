package dev.buckcache.storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Wraps raw bytes in a zstd frame made of raw blocks (RFC 8878 §3.1): no compression work, so a
 * chunk stored raw can join a compressed response stream made of stored zstd frames.
 */
public final class ZstdFrames {
  private static final int MAGIC = 0xFD2FB528;
  private static final int MAX_BLOCK = 128 * 1024;

  private ZstdFrames() {}

  public static byte[] rawFrame(byte[] raw) {
    int blocks = Math.max(1, (raw.length + MAX_BLOCK - 1) / MAX_BLOCK);
    var out = ByteBuffer.allocate(4 + 1 + 4 + 3 * blocks + raw.length).order(ByteOrder.LITTLE_ENDIAN);
    out.putInt(MAGIC);
    // Frame header descriptor: 4-byte content size (flag 2), single segment (so no window
    // descriptor: the window is the content size), no checksum, no dictionary.
    out.put((byte) 0xA0);
    out.putInt(raw.length);
    int pos = 0;
    do {
      int n = Math.min(MAX_BLOCK, raw.length - pos);
      boolean last = pos + n >= raw.length;
      int header = (n << 3) | (last ? 1 : 0); // block type 0 = raw
      out.put((byte) header).put((byte) (header >>> 8)).put((byte) (header >>> 16));
      out.put(raw, pos, n);
      pos += n;
    } while (pos < raw.length);
    return out.array();
  }
}
