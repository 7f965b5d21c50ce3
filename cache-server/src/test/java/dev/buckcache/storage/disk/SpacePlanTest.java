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

  /** server.memory_limit's RocksDB share: a quarter for the block cache, memtables the rest. */
  @Test
  void within_nativeBudget_cacheAndMemtablesFitIt_noBudgetChangesNothing() {
    var big = SpacePlan.forCapacity(10_000_000_000L);
    assertThat(big.within(0)).isEqualTo(big);
    assertThat(SpacePlan.blockCache(0)).isEqualTo(64L << 20);
    long budget = 160L << 20; // a 1GiB limit
    var cut = big.within(budget);
    assertThat(SpacePlan.blockCache(budget)).isEqualTo(40L << 20);
    assertThat(cut.dataBuffer()).isEqualTo(30L << 20);
    assertThat(SpacePlan.blockCache(budget) + SpacePlan.DATA_BUFFERS * cut.dataBuffer())
        .isLessThanOrEqualTo(budget);
    assertThat(cut.reserve()).as("smaller memtables, smaller reserve").isLessThan(big.reserve());
    assertThat(big.within(16L << 20).dataBuffer()).isEqualTo(2L << 20);
    assertThat(SpacePlan.forCapacity(40L << 20).within(8L << 40).dataBuffer())
        .as("never larger than the disk sets").isEqualTo(SpacePlan.forCapacity(40L << 20).dataBuffer());
  }
}
