package dev.buckcache.storage;

/**
 * Why an action-cache lookup missed, as a build engineer asks it. The label is what metrics and
 * {@code /api/invocations} show.
 */
public enum MissCause {
  /** No entry: never written here, or evicted whole (the store keeps no record of either). */
  NEVER_STORED("never_stored"),
  /** The entry is there but an output it names is gone (evicted): an integrity miss. */
  OUTPUTS_EVICTED("outputs_evicted"),
  /** No entry, and the last attempt to store it was refused (read token, anonymous, full disk). */
  UPLOAD_REFUSED("upload_refused"),
  /** No entry, and this instance has results stored under another digest function only. */
  DIGEST_FUNCTION_MISMATCH("digest_function_mismatch"),
  /** The stored value is not a usable ActionResult (unparseable, invalid digest in it). */
  INVALID_ENTRY("invalid_entry");

  private final String label;

  MissCause(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }
}
