package dev.buckcache.digest;

/** A client named a blob by something that is not a valid digest. The message says what is wrong. */
public final class InvalidDigestException extends IllegalArgumentException {
  public InvalidDigestException(String message) {
    super(message);
  }
}
