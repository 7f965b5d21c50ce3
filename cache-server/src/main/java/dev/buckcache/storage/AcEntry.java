package dev.buckcache.storage;

import static java.util.Objects.requireNonNull;

/**
 * A stored action-cache value. {@link Kind#ACTION_RESULT} values are serialized REAPI
 * ActionResults and are returned only while every blob they reference is present; {@link
 * Kind#RAW} values (ccache puts its own blobs under {@code /ac/}) are returned as they are.
 */
@SuppressWarnings("ArrayRecordComponent") // a byte carrier: never compared or hashed
public record AcEntry(Kind kind, byte[] value, Provenance writer) {
  /** The largest value accepted (it is held in memory whole): 64 MiB, or max_blob_size if less. */
  public static final long MAX_SIZE = 64L << 20;

  public AcEntry {
    requireNonNull(kind, "kind");
    requireNonNull(value, "value");
  }

  /** A value with no writer recorded (a read, or a test). */
  public AcEntry(Kind kind, byte[] value) {
    this(kind, value, null);
  }

  /** The same value, recorded as written by {@code by}. */
  public AcEntry writtenBy(Provenance by) {
    return new AcEntry(kind, value, by);
  }

  public enum Kind {
    ACTION_RESULT,
    RAW
  }
}
