package dev.buckcache.storage.disk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SpacePlanTest {
  @Test
  void reserve_smallDisksGetSmallBuffers_andKeepMostOfTheDiskForBlobs() {
    var small = SpacePlan.forCapacity(40L << 20);
    var medium = SpacePlan.forCapacity(300L << 20);
    var big = SpacePlan.forCapacity(10_000_000_000L);
    // Memtables and WAL follow the capacity, not max_size: what wedged a 300 MB disk was 64 MiB.
    assertThat(medium.dataBuffer()).isLessThan(8L << 20);
    assertThat(medium.walLimit()).isLessThan(16L << 20);
    assertThat(big.dataBuffer()).isEqualTo(64L << 20);
    // The reserve covers every memtable's flush, the WAL and a compaction of data files.
    for (var plan : new SpacePlan[] {small, medium, big}) {
      assertThat(plan.reserve()).isGreaterThan(SpacePlan.DATA_BUFFERS * plan.dataBuffer()
          + plan.walLimit() + SpacePlan.COMPACTION_FILES * plan.dataBuffer());
    }
    assertThat(small.reserve()).isLessThan(small.capacity() / 2);
    assertThat(medium.reserve()).isLessThan(medium.capacity() / 5);
    assertThat(big.reserve()).isLessThan(big.capacity() / 15);
  }
}
