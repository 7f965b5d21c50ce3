package dev.buckcache.storage;

import dev.buckcache.digest.Digest;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
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

  /** One blob of a batch upload, as the client sent it: raw, or as a zstd stream. */
  record BatchBlob(Digest digest, ByteBuffer data, boolean zstd) {}

  /**
   * Stores the blobs of one batch, each verified like any upload; one outcome per blob, in order:
   * null once stored, else why not. The default stores them one after another; a tier whose
   * writes wait on the network overlaps them.
   */
  default List<RuntimeException> putAll(List<BatchBlob> blobs) {
    var out = new ArrayList<RuntimeException>(blobs.size());
    for (var b : blobs) {
      try {
        write(newWriter(b.digest()), b);
        out.add(null);
      } catch (RuntimeException e) {
        out.add(e);
      }
    }
    return out;
  }

  /** Writes one batch blob through {@code writer} (decoding zstd) and commits it; closes it. */
  static void write(BlobWriter writer, BatchBlob blob) {
    try (var w = blob.zstd() ? new ZstdUpload(writer) : writer) {
      w.write(blob.data().duplicate());
      w.commit();
    }
  }

  /**
   * Says these blobs are about to be read, so a tier that fetches from afar may bring them close
   * at once instead of one read at a time. The default does nothing.
   */
  default void prefetch(Collection<Digest> digests) {}

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
