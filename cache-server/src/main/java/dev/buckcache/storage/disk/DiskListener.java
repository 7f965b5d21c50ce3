package dev.buckcache.storage.disk;

import dev.buckcache.storage.StoreKey;
import java.util.List;

/** What upper tiers hear from the disk tier. Called on background threads; must not block. */
public interface DiskListener {
  /** Hears nothing: for a tier without upper tiers (verify). */
  DiskListener NONE = new DiskListener() {
    @Override
    public void evicted(List<StoreKey> keys) {}

    @Override
    public void placed(StoreKey key, long ringOffset) {}
  };

  /** These entries were evicted. */
  void evicted(List<StoreKey> keys);

  /** This entry now sits at {@code ringOffset} (after a copy-forward). */
  void placed(StoreKey key, long ringOffset);
}
