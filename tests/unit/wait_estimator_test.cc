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

TEST(WaitEstimatorTest, FullBatchesAheadThenItsOwnBatchAtItsSize) {
  WaitEstimator wait(4, 1);
  wait.RecordBatch(0.5, 4);  // nothing else measured: a batch of k costs k/4 of it
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.125);  // alone in its batch
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(3, kNow), 0.5);    // the 4 fit one batch
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(4, kNow), 0.625);  // one full batch, then its own
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(11, kNow), 1.5);   // two full, then its own of 4
  WaitEstimator two_threads(4, 2);
  two_threads.RecordBatch(0.5, 4);
  EXPECT_DOUBLE_EQ(two_threads.EstimateSeconds(11, kNow), 1.0);  // the two full ones side by side
}

TEST(WaitEstimatorTest, MeasuredSizesAreUsedAsMeasured) {
  WaitEstimator wait(8, 1);
  wait.RecordBatch(2.0, 8);
  wait.RecordBatch(0.4, 1);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.4);  // a lone request: its own measurement
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(7, kNow), 2.0);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(2, kNow), 1.2);  // 3: nearest measured is 1, scaled
}

TEST(WaitEstimatorTest, RunningBatchesAddWhatIsLeftOfThemAndIdleSaysWhetherAnyRuns) {
  WaitEstimator wait(4, 1);
  wait.RecordBatch(0.5, 4);
  EXPECT_TRUE(wait.Idle());
  wait.BatchStarted(4, kNow);
  EXPECT_FALSE(wait.Idle());
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.625);  // the running batch, then its own
  // What is left of the running batch: 0.2 s into it, 0.3 s; past its time, nothing.
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow + absl::Milliseconds(200)), 0.425);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow + absl::Seconds(3)), 0.125);
  wait.RecordBatch(0.5, 4);
  EXPECT_TRUE(wait.Idle());
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0, kNow), 0.125);
}

TEST(WaitEstimatorTest, FollowsTheMeasuredBatchTime) {
  WaitEstimator wait(1, 1);
  wait.RecordBatch(1.0, 1);
  for (int i = 0; i < 30; ++i) wait.RecordBatch(0.1, 1);
  EXPECT_NEAR(wait.EstimateSeconds(0, kNow), 0.1, 0.01);
}

}  // namespace
}  // namespace ovseg
