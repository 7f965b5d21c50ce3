package dev.buckcache.http;

import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.Hex;
import dev.buckcache.storage.AcKey;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/*
 * Design notes
 *
 * Where. A tool's artifact is an action-cache entry (RAW) of its instance: it has the AC's size
 * limit, eviction, recency, crash safety and shared-tier replication, and needs nothing new in
 * the store. Its key is SHA-256 of "buckcache-tool" NUL kind NUL the tool's key, so the three
 * tools and bazel-remote's /ac/ keys never meet, and any key the tool makes (Gradle's 32 hex
 * digits, Turborepo's 16, Nx's decimal) fits an AcKey.
 *
 * What. The value is a small header, then the artifact's bytes as the client sent them:
 *   "BKT" 1 | tool id (1) | duration ms (8, -1 when not sent) | tag length (2) | tag (UTF-8)
 * Turborepo sends the task's duration (x-artifact-duration) and, with signing on, an HMAC tag
 * (x-artifact-tag), and wants both back on a GET. A value without this header, or of another
 * tool, is a miss.
 */

/** The stored form of Gradle, Turborepo and Nx artifacts: their key and their value. */
final class ToolArtifacts {
  private static final byte[] MAGIC = {'B', 'K', 'T', 1};
  static final int MAX_TAG = 1024;

  private ToolArtifacts() {}

  /** The action-cache key an artifact of {@code tool} with {@code key} is stored under. */
  static AcKey key(ToolPath.Tool tool, String instance, String key) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    sha.update(("buckcache-tool\0" + tool.kind + "\0" + key).getBytes(StandardCharsets.UTF_8));
    return new AcKey(instance, DigestFunction.SHA256, Hex.encode(sha.digest()));
  }

  /** The header's length for this tag. */
  static int headerLength(String tag) {
    return MAGIC.length + 1 + 8 + 2 + (tag == null ? 0 : tag.getBytes(StandardCharsets.UTF_8).length);
  }

  /** Writes the header into the first {@link #headerLength} bytes of {@code value}. */
  static void writeHeader(byte[] value, ToolPath.Tool tool, long durationMs, String tag) {
    var tagBytes = tag == null ? new byte[0] : tag.getBytes(StandardCharsets.UTF_8);
    ByteBuffer.wrap(value).put(MAGIC).put(tool.id).putLong(durationMs)
        .putShort((short) tagBytes.length).put(tagBytes);
  }

  /**
   * A stored artifact: the bytes {@code value[bodyOffset..]} are the client's.
   *
   * @param durationMs the task's duration the client sent, or -1
   * @param tag the client's signature tag, or null
   */
  @SuppressWarnings("ArrayRecordComponent") // a byte carrier: never compared or hashed
  record Stored(byte[] value, int bodyOffset, long durationMs, String tag) {
    int bodyLength() {
      return value.length - bodyOffset;
    }
  }

  /** The artifact in {@code value} if it is one of {@code tool}'s, else null (a miss). */
  static Stored read(byte[] value, ToolPath.Tool tool) {
    int fixed = MAGIC.length + 1 + 8 + 2;
    if (value.length < fixed) {
      return null;
    }
    for (int i = 0; i < MAGIC.length; i++) {
      if (value[i] != MAGIC[i]) {
        return null;
      }
    }
    var buf = ByteBuffer.wrap(value, MAGIC.length, fixed - MAGIC.length);
    if (buf.get() != tool.id) {
      return null;
    }
    long duration = buf.getLong();
    int tagLength = Short.toUnsignedInt(buf.getShort());
    if (fixed + tagLength > value.length) {
      return null;
    }
    var tag = tagLength == 0 ? null : new String(value, fixed, tagLength, StandardCharsets.UTF_8);
    return new Stored(value, fixed + tagLength, duration, tag);
  }
}
