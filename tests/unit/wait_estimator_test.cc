// Deadline-aware admission's estimate (server/service/wait_estimator.h).
#include "server/service/wait_estimator.h"

#include <gtest/gtest.h>

namespace ovseg {
namespace {

TEST(WaitEstimatorTest, NothingMeasuredAdmitsEverything) {
  WaitEstimator wait(8, 1);
  EXPECT_EQ(wait.EstimateSeconds(1000), 0.0);
}

TEST(WaitEstimatorTest, BatchesAheadPlusTheRunningOne) {
  WaitEstimator wait(4, 1);
  wait.RecordBatch(0.5);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(0), 1.0);  // its own batch + the running one
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(3), 1.0);  // the 4 fit one batch
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(4), 1.5);
  EXPECT_DOUBLE_EQ(wait.EstimateSeconds(11), 2.0);
  WaitEstimator two_threads(4, 2);
  two_threads.RecordBatch(0.5);
  EXPECT_DOUBLE_EQ(two_threads.EstimateSeconds(11), 1.25);  // 3 batches on 2 threads
}

TEST(WaitEstimatorTest, FollowsTheMeasuredBatchTime) {
  WaitEstimator wait(1, 1);
  wait.RecordBatch(1.0);
  for (int i = 0; i < 30; ++i) wait.RecordBatch(0.1);
  EXPECT_NEAR(wait.EstimateSeconds(0), 0.2, 0.01);
}

}  // namespace
}  // namespace ovseg
