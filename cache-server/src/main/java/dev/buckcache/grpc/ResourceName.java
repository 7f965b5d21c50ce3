package dev.buckcache.grpc;

import java.util.List;

/**
 * A ByteStream resource name, parsed once:
 * {@code [instance/]blobs/HASH/SIZE}, {@code [instance/]compressed-blobs/zstd/HASH/SIZE} (reads),
 * {@code [instance/]uploads/UUID/blobs/HASH/SIZE[/anything]} and its compressed form (writes).
 */
record ResourceName(String instance, boolean compressed, String hash, long size) {

  static ResourceName parseRead(String name) {
    return parse(name, false);
  }

  static ResourceName parseWrite(String name) {
    return parse(name, true);
  }

  private static ResourceName parse(String name, boolean upload) {
    var parts = List.of(name.split("/", -1));
    int i = upload ? parts.indexOf("uploads") : indexOfBlobs(parts, 0);
    if (i < 0) {
      throw bad(name, upload);
    }
    var instance = String.join("/", parts.subList(0, i));
    int blobs = upload ? i + 2 : i;
    if (upload && (parts.size() <= blobs || parts.get(i + 1).isEmpty())) {
      throw bad(name, true);
    }
    boolean compressed = blobs < parts.size() && parts.get(blobs).equals("compressed-blobs");
    if (blobs >= parts.size() || !(compressed || parts.get(blobs).equals("blobs"))) {
      throw bad(name, upload);
    }
    int hashAt = blobs + (compressed ? 2 : 1);
    if (parts.size() < hashAt + 2) {
      throw bad(name, upload);
    }
    if (compressed && !parts.get(blobs + 1).equals("zstd")) {
      throw GrpcErrors.invalid("compressor '" + parts.get(blobs + 1) + "' in " + name
          + " is not supported (zstd only)");
    }
    if (parts.size() < hashAt + 2 || (!upload && parts.size() != hashAt + 2)) {
      throw bad(name, upload);
    }
    long size;
    try {
      size = Long.parseLong(parts.get(hashAt + 1));
    } catch (NumberFormatException e) {
      throw bad(name, upload);
    }
    return new ResourceName(instance, compressed, parts.get(hashAt), size);
  }

  private static int indexOfBlobs(List<String> parts, int from) {
    for (int i = from; i < parts.size(); i++) {
      if (parts.get(i).equals("blobs") || parts.get(i).equals("compressed-blobs")) {
        return i;
      }
    }
    return -1;
  }

  private static RuntimeException bad(String name, boolean upload) {
    return GrpcErrors.invalid("malformed resource name '" + name + "': expected "
        + (upload ? "[instance/]uploads/UUID/blobs/HASH/SIZE or .../compressed-blobs/zstd/HASH/SIZE"
            : "[instance/]blobs/HASH/SIZE or [instance/]compressed-blobs/zstd/HASH/SIZE"));
  }
}
