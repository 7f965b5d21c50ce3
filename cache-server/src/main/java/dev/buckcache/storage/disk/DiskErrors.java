package dev.buckcache.storage.disk;

import dev.buckcache.storage.StorageException;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

/** Turns RocksDB errors into the storage errors front ends understand. */
final class DiskErrors {
  private DiskErrors() {}

  static StorageException wrap(RocksDBException e, String what) {
    var status = e.getStatus();
    if (status != null && status.getSubCode() == Status.SubCode.NoSpace) {
      return new StorageException.StoreFull("disk full while " + what + ": " + e.getMessage(), e);
    }
    return new StorageException.Failure("storage error while " + what + ": " + e.getMessage(), e);
  }
}
