package dev.buckcache.storage;

import dev.buckcache.digest.Digest;
import java.io.ByteArrayOutputStream;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The content-addressed store, shared by every instance name. Blobs are named by digest; content
 * is verified on write. Reads and presence checks refresh a blob's recency.
 */
public interface BlobStore {

  /** True if the blob can be read now. The empty blob is always present. */
  boolean contains(Digest digest);

  /** The digests not present, in request order. Found blobs count as used (their recency moves). */
  List<Digest> findMissing(Collection<Digest> digests);

  /** Opens a blob for reading from {@code offset} (0 ≤ offset ≤ size), or empty on a miss. */
  Optional<BlobReader> open(Digest digest, long offset);

  /** Starts an upload. Fails fast with {@link StorageException.TooLarge} over the size limit. */
  BlobWriter newWriter(Digest digest);

  /** Stores a blob held in memory; verified like any upload. */
  default void put(Digest digest, byte[] content) {
    try (var writer = newWriter(digest)) {
      writer.write(content, 0, content.length);
      writer.commit();
    }
  }

  /** Reads a whole blob into memory: for small blobs and tests only. */
  default Optional<byte[]> getBytes(Digest digest) {
    var reader = open(digest, 0);
    if (reader.isEmpty()) {
      return Optional.empty();
    }
    try (var r = reader.get()) {
      var out = new ByteArrayOutputStream((int) Math.min(r.size(), 1 << 20));
      for (var chunk = r.nextRaw(); chunk != null; chunk = r.nextRaw()) {
        out.write(chunk, 0, chunk.length);
      }
      return Optional.of(out.toByteArray());
    }
  }
}
