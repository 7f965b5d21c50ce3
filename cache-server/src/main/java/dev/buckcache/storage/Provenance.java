package dev.buckcache.storage;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Who wrote an action-cache entry: kept beside it on disk (in its index record) and as object
 * metadata in the shared tier, so that an admin can purge what one token wrote
 * ({@code POST /api/purge?written_by=}). Strings are cut to fixed bounds: a client chooses its
 * tool name and invocation id, and none of them may grow an index record without limit.
 *
 * @param subject the writer's token subject ({@code anonymous} without auth)
 * @param tool the client: REAPI tool name (buck2, bazel, pants, ...) or the HTTP user agent's product
 * @param invocation the client's build id (REAPI {@code tool_invocation_id}), empty over HTTP
 * @param address the client's IP address
 * @param written when the entry was written
 */
public record Provenance(String subject, String tool, String invocation, String address,
    Instant written) {
  static final int MAX_SUBJECT = 128;
  static final int MAX_TOOL = 48;
  static final int MAX_INVOCATION = 80;
  static final int MAX_ADDRESS = 64;
  private static final byte VERSION = 1;

  public Provenance {
    subject = bound(subject, MAX_SUBJECT);
    tool = bound(tool, MAX_TOOL);
    invocation = bound(invocation, MAX_INVOCATION);
    address = bound(address, MAX_ADDRESS);
    written = written == null ? Instant.EPOCH : Instant.ofEpochMilli(written.toEpochMilli());
  }

  /** At most {@code max} UTF-8 bytes of {@code s}, never splitting a character; null as empty. */
  public static String bound(String s, int max) {
    if (s == null) {
      return "";
    }
    if (s.length() * 3 <= max) {
      return s;
    }
    var bytes = s.getBytes(StandardCharsets.UTF_8);
    if (bytes.length <= max) {
      return s;
    }
    int end = max;
    while (end > 0 && (bytes[end] & 0xC0) == 0x80) { // back off to a character boundary
      end--;
    }
    return new String(bytes, 0, end, StandardCharsets.UTF_8);
  }

  /** Version, time in ms, then four strings each with a one-byte length: under 400 bytes. */
  public byte[] encode() {
    var out = new ByteArrayOutputStream(64);
    out.write(VERSION);
    var time = ByteBuffer.allocate(8).putLong(written.toEpochMilli()).array();
    out.write(time, 0, 8);
    for (var s : new String[] {subject, tool, invocation, address}) {
      var b = s.getBytes(StandardCharsets.UTF_8);
      out.write(b.length);
      out.write(b, 0, b.length);
    }
    return out.toByteArray();
  }

  /** The provenance encoded by {@link #encode}, or null for bytes it did not write. */
  public static Provenance decode(byte[] bytes) {
    if (bytes == null || bytes.length < 13 || bytes[0] != VERSION) {
      return null;
    }
    var in = ByteBuffer.wrap(bytes);
    in.get();
    long millis = in.getLong();
    var strings = new String[4];
    for (int i = 0; i < 4; i++) {
      if (!in.hasRemaining()) {
        return null;
      }
      int n = in.get() & 0xFF;
      if (in.remaining() < n) {
        return null;
      }
      strings[i] = new String(bytes, in.position(), n, StandardCharsets.UTF_8);
      in.position(in.position() + n);
    }
    return new Provenance(strings[0], strings[1], strings[2], strings[3],
        Instant.ofEpochMilli(millis));
  }
}
