package dev.buckcache.storage;

import build.bazel.remote.execution.v2.ActionResult;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;

/**
 * Tells an ActionResult from another client's opaque value in a protocol that does not say which
 * (HTTP {@code PUT /ac/}). A value counts as an ActionResult only if it parses, has no unknown
 * fields, and re-serializes to exactly the same bytes; ccache's result files never do.
 */
public final class AcValues {
  private AcValues() {}

  public static AcEntry classify(byte[] value) {
    try {
      var result = ActionResult.parseFrom(value);
      if (result.getUnknownFields().asMap().isEmpty()
          && result.toByteString().equals(ByteString.copyFrom(value))) {
        return new AcEntry(AcEntry.Kind.ACTION_RESULT, value);
      }
    } catch (InvalidProtocolBufferException e) {
      // not an ActionResult
    }
    return new AcEntry(AcEntry.Kind.RAW, value);
  }
}
