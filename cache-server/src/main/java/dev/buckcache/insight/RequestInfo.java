package dev.buckcache.insight;

import build.bazel.remote.execution.v2.RequestMetadata;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.buckcache.storage.Provenance;
import java.util.Locale;
import java.util.Set;

/**
 * What a REAPI client says about one call in its {@code requestmetadata-bin} header, each string
 * cut to a bound. Buck2 sends its tool name and build id (a UUID); Bazel adds
 * {@code correlated_invocations_id}, the action mnemonic and the target; Pants sends its tool name
 * and build id.
 */
public record RequestInfo(String tool, String toolVersion, String invocation, String correlated,
    String mnemonic, String target) {
  public static final RequestInfo NONE = new RequestInfo("", "", "", "", "", "");
  /** Tool label values for metrics: a fixed set, never a client's string. */
  public static final Set<String> TOOLS = Set.of("buck2", "bazel", "pants", "other");

  static final int MAX_ID = 80;
  static final int MAX_NAME = 48;
  static final int MAX_LABEL = 160;

  public RequestInfo {
    tool = Provenance.bound(tool, MAX_NAME);
    toolVersion = Provenance.bound(toolVersion, MAX_NAME);
    invocation = Provenance.bound(invocation, MAX_ID);
    correlated = Provenance.bound(correlated, MAX_ID);
    mnemonic = Provenance.bound(mnemonic, MAX_NAME);
    target = Provenance.bound(target, MAX_LABEL);
  }

  /** The header's value; NONE when absent or not a RequestMetadata. */
  public static RequestInfo parse(byte[] header) {
    if (header == null || header.length == 0) {
      return NONE;
    }
    try {
      var m = RequestMetadata.parseFrom(header);
      return new RequestInfo(m.getToolDetails().getToolName(), m.getToolDetails().getToolVersion(),
          m.getToolInvocationId(), m.getCorrelatedInvocationsId(), m.getActionMnemonic(),
          m.getTargetId());
    } catch (InvalidProtocolBufferException e) {
      return NONE;
    }
  }

  /** The tool as a metrics label: buck2, bazel, pants, or other. */
  public String toolLabel() {
    var t = tool.toLowerCase(Locale.ROOT);
    return TOOLS.contains(t) ? t : "other";
  }
}
