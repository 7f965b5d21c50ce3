package dev.buckcache.storage;

/**
 * A storage operation failed. Subclasses say why; each front end maps them to its status codes in
 * one place. The message is one line an operator or user can act on.
 */
public abstract class StorageException extends RuntimeException {
  protected StorageException(String message) {
    super(message);
  }

  protected StorageException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Uploaded content does not match the digest it was sent under. Nothing was stored. */
  public static final class ContentMismatch extends StorageException {
    public ContentMismatch(String message) {
      super(message);
    }
  }

  /** A blob larger than the configured limit. */
  public static final class TooLarge extends StorageException {
    public TooLarge(String message) {
      super(message);
    }
  }

  /** No room: the disk is full or eviction cannot keep up. Retry later. */
  public static final class StoreFull extends StorageException {
    public StoreFull(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The store is busy (executor queue full or too many bytes in flight). Retry later. */
  public static final class Busy extends StorageException {
    public Busy(String message) {
      super(message);
    }
  }

  /**
   * The shared store could not be reached or refused the operation (unreachable, slow, 5xx,
   * throttled, access denied). The message names the store and the reason, never a credential.
   */
  public static final class Unavailable extends StorageException {
    public Unavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The store failed (I/O error, corruption) or is closed. */
  public static final class Failure extends StorageException {
    public Failure(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
