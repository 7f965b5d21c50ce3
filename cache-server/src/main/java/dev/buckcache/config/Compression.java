package dev.buckcache.config;

/** How the disk tier stores blobs. */
public enum Compression {
  ZSTD,
  NONE
}
