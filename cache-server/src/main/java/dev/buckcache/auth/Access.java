package dev.buckcache.auth;

/** What a request does, for the permission check. */
public enum Access {
  READ("read"),
  WRITE_CAS("upload CAS blobs"),
  WRITE_AC("update the action cache");

  private final String description;

  Access(String description) {
    this.description = description;
  }

  public String description() {
    return description;
  }
}
