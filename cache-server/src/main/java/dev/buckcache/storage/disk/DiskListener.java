package dev.buckcache.storage.disk;

import dev.buckcache.storage.StoreKey;
import java.util.List;

/** What upper tiers hear from the disk tier. Called on background threads; must not block. */
public interface DiskListener {
  /** These entries were evicted. */
  void evicted(List<StoreKey> keys);

  /** This entry now sits at {@code ringOffset} (after a copy-forward). */
  void placed(StoreKey key, long ringOffset);
}
