package dev.buckcache.storage.shared;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.Map;

/**
 * A bucket of named objects: what the shared tier needs of an S3-compatible store, and nothing
 * of any SDK's types, so the tier can be tested against any implementation. Every method either
 * answers or throws {@link dev.buckcache.storage.StorageException.Unavailable} with a one-line
 * reason that names the store and never a credential; "absent" is an answer, not a failure.
 */
public interface ObjectStore extends AutoCloseable {

  /** What a HEAD or GET says about an object. */
  record Info(long size, Instant lastModified, Map<String, String> metadata) {}

  /** An object being read: its info and its bytes from the requested offset. Close the body. */
  record Opened(Info info, InputStream body) {}

  /** Where a streamed upload's bytes come from; opened again from an offset on each retry. */
  @FunctionalInterface
  interface Source {
    InputStream open(long offset) throws IOException;
  }

  /** The object's info, or null if there is none. */
  Info head(String key);

  /** The object from {@code offset} on, or null if there is none. */
  Opened get(String key, long offset);

  /** Stores a small object in one request. */
  void put(String key, byte[] value, Map<String, String> metadata);

  /** Streams {@code length} bytes into one object (multipart when large); nothing is held whole. */
  void put(String key, long length, Source source, Map<String, String> metadata);

  /** Deletes the object; deleting one that is absent is not an error. */
  void delete(String key);

  /** Rewrites an object onto itself so that its age (and any lifecycle expiry) starts again. */
  void refresh(String key, Map<String, String> metadata);

  /** Checks that the bucket answers at all, for recovery after an outage. */
  void probe();

  /** For logs and status: {@code s3://bucket/prefix at endpoint}. Never a credential. */
  String describe();

  @Override
  void close();
}
