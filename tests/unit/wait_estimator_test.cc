// Deadline-aware admission's estimate (server/service/wait_estimator.h).
#include "server/service/wait_estimator.h"

#include <gtest/gtest.h>

namespace ovseg {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000);

TEST(WaitEstimatorTest, NothingMeasuredAdmitsEverything) {
  WaitEstimator wait(8, 1);
  EXPECT_EQ(wait.EstimateSeconds(1000, kNow), 0.0);
}

TEST(WaitEstimatorTest, FullBatchesAheadThenItsOwnFullOneUnlessTheModelIsIdle) {
  WaitEstimator wait(4, 1);
  wait.RecordBatch(0.5, 4);  // nothing else measured: a batch of k costs k/4 of it
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.125);  // idle: alone in its batch
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(1, kNow), 0.5);    // others will join it
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(3, kNow), 0.5);    // the 4 fit one batch
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(4, kNow), 1.0);    // one full batch, then its own
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(11, kNow), 1.5);   // two full, then its own
  WaitEstimator two_threads(4, 2);
  two_threads.RecordBatch(0.5, 4);
  EXPECT_DOUBLE_EQ(two_threads.EstimateSeconds(11, kNow), 1.0);  // the two full side by side
}

TEST(WaitEstimatorTest, AFreeBatchThreadStartsALoneRequestAtOnceBesideARunningBatch) {
  WaitEstimator wait(4, 2);
  wait.RecordBatch(0.5, 4);  // a batch of 1 costs 0.125
  wait.BatchStarted(1, kNow);
  // One thread busy, one free: nothing queued starts now, alone, beside the running one.
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.125);
  // Something queued takes the free thread first: behind it, its own batch fills.
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(1, kNow), 0.125 / 2 + 0.5);
  wait.BatchStarted(1, kNow);
  // Both threads busy: what is left of both (shared by the two threads), then its own.
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.125 + 0.5);
  WaitEstimator one_thread(4, 1);
  one_thread.RecordBatch(0.5, 4);
  one_thread.BatchStarted(1, kNow);
  EXPECT_DOUBLE_EQ(one_thread.EstimateSeconds(0, kNow), 0.125 + 0.5);  // no thread free
}

TEST(WaitEstimatorTest, MeasuredSizesAreUsedAsMeasured) {
  WaitEstimator wait(8, 1);
  wait.RecordBatch(2.0, 8);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.25);  // unmeasured 1: scaled from 8
  wait.RecordBatch(0.4, 1);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.4);  // a lone request: as measured
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(7, kNow), 2.0);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(8, kNow), 4.0);
}

TEST(WaitEstimatorTest, RunningBatchesAddWhatIsLeftOfThemAndIdleSaysWhetherAnyRuns) {
  WaitEstimator wait(4, 1);
  wait.RecordBatch(0.5, 4);
  EXPECT_TRUE(wait.Idle());
  wait.BatchStarted(4, kNow);
  EXPECT_FALSE(wait.Idle());
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 1.0);  // the running batch, then its own
  // What is left of the running batch: 0.2 s into it, 0.3 s; past its time, nothing.
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow + absl::Milliseconds(200)), 0.8);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow + absl::Seconds(3)), 0.5);
  wait.RecordBatch(0.5, 4);
  EXPECT_TRUE(wait.Idle());
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.125);
}

TEST(WaitEstimatorTest, FollowsTheMeasuredBatchTime) {
  WaitEstimator wait(1, 1);
  wait.RecordBatch(1.0, 1);
  for (int i = 0; i < 40; ++i) wait.RecordBatch(0.1, 1);
  EXPECT_NEAR(wait.EstimateSeconds(0, kNow), 0.1, 0.01);
}

TEST(WaitEstimatorTest, VaryingBatchTimesAreEstimatedAboveTheirAverage) {
  WaitEstimator wait(1, 1);
  for (int i = 0; i < 40; ++i) wait.RecordBatch(i % 2 ? 1.2 : 0.8, 1);
  // Average about 1.0, deviation about 0.2: an estimate near 1.4 s, above most batches.
  EXPECT_GT(wait.EstimateSeconds(0, kNow), 1.3);
  EXPECT_LT(wait.EstimateSeconds(0, kNow), 1.5);
}

TEST(WaitEstimatorTest, TypicalBatchTimeIsTheAverageWithoutDeviation) {
  WaitEstimator wait(4, 1);
  EXPECT_DOUBLE_EQ(wait.TypicalBatchSeconds(2), 0.0);  // nothing measured
  for (int i = 0; i < 40; ++i) wait.RecordBatch(i % 2 ? 1.2 : 0.8, 2);
  EXPECT_NEAR(wait.TypicalBatchSeconds(2), 1.0, 0.05);
  EXPECT_NEAR(wait.TypicalBatchSeconds(4), 2.0, 0.1);  // scaled from the measured size
}

TEST(WaitEstimatorTest, OverheadIsMeasuredApartFromTheModel) {
  WaitEstimator wait(1, 1);
  EXPECT_DOUBLE_EQ(wait.OverheadSeconds(), 0.0);  // nothing measured: nothing added
  wait.RecordOverhead(0.05);
  EXPECT_DOUBLE_EQ(wait.OverheadSeconds(), 0.05);
  for (int i = 0; i < 40; ++i) wait.RecordOverhead(i % 2 ? 0.06 : 0.04);
  EXPECT_GT(wait.OverheadSeconds(), 0.055);  // above the average, as batch times
  EXPECT_LT(wait.OverheadSeconds(), 0.075);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.0);  // the model's wait is its own
}

// The warm-up's measurement is what admission starts from, and only until serving has
// measured that size itself: a later version's warm-up, sharing the machine with serving,
// must not disturb it, nor end a running call's accounting.
TEST(WaitEstimatorTest, AWarmUpSeedsOnlyAnUnmeasuredSize) {
  WaitEstimator wait(4, 1);
  wait.SeedBatch(0.5, 1);
  EXPECT_DOUBLE_EQ(wait.TypicalBatchSeconds(1), 0.5);
  EXPECT_DOUBLE_EQ(wait.TypicalBatchSeconds(4), 2.0);  // scaled from the seeded size
  EXPECT_TRUE(wait.Idle());
  // Behind queued work its own batch is costed full: 4 x 0.5 s.
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(1, kNow), 2.0);

  wait.RecordBatch(0.2, 1);
  wait.BatchStarted(1, kNow);
  wait.SeedBatch(3.0, 1);  // a swap's warm-up on a busy machine
  EXPECT_LT(wait.TypicalBatchSeconds(1), 0.5);
  EXPECT_FALSE(wait.Idle()) << "the warm-up ended the running call's accounting";
}

}  // namespace
}  // namespace ovseg
