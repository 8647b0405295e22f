#include "server/batching/batcher.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/fakes/fake_pipeline.h"

namespace ovseg {
namespace {

struct FakeTask {
  std::string bucket_name = "a";
  absl::Time deadline_at = absl::InfiniteFuture();
  std::atomic<bool> cancelled{false};
  int id = 0;
  absl::Status* failed_with = nullptr;

  const std::string& bucket() const { return bucket_name; }
  absl::Time deadline() const { return deadline_at; }
  bool IsCancelled() const { return cancelled.load(); }
  void Fail(const absl::Status& s) {
    if (failed_with) *failed_with = s;
  }
};

class BatcherTest : public ::testing::Test {
 protected:
  std::unique_ptr<Batcher<FakeTask>> Make(BatcherOptions o) {
    o.num_batch_threads = 0;  // Driven by hand with the fake clock.
    auto b =
        Batcher<FakeTask>::Create(o, &clock_, [this](std::vector<std::unique_ptr<FakeTask>> batch) {
          std::vector<int> ids;
          for (auto& t : batch) ids.push_back(t->id);
          batches_.push_back(ids);
        });
    EXPECT_TRUE(b.ok());
    return *std::move(b);
  }
  absl::Status Add(Batcher<FakeTask>& b, int id, std::string bucket = "a",
                   absl::Time deadline = absl::InfiniteFuture(), absl::Status* failed = nullptr) {
    auto t = std::make_unique<FakeTask>();
    t->id = id;
    t->bucket_name = bucket;
    t->deadline_at = deadline;
    t->failed_with = failed;
    return b.Schedule(t);
  }

  testing::FakeClock clock_;
  std::vector<std::vector<int>> batches_;
};

TEST_F(BatcherTest, WaitsForDelayThenDispatchesPartialBatch) {
  auto b = Make({.max_batch_size = 4, .max_queue_delay_us = 1000, .max_queue_size = 10});
  ASSERT_TRUE(Add(*b, 1).ok());
  ASSERT_TRUE(Add(*b, 2).ok());
  EXPECT_FALSE(b->ProcessOneBatch());
  clock_.Advance(absl::Microseconds(999));
  EXPECT_FALSE(b->ProcessOneBatch());
  clock_.Advance(absl::Microseconds(1));
  EXPECT_TRUE(b->ProcessOneBatch());
  ASSERT_EQ(batches_.size(), 1u);
  EXPECT_EQ(batches_[0], (std::vector<int>{1, 2}));
  EXPECT_EQ(b->queue_size(), 0u);
}

TEST_F(BatcherTest, FullBatchDispatchesWithoutWaiting) {
  auto b = Make({.max_batch_size = 3, .max_queue_delay_us = 1000000, .max_queue_size = 10});
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(Add(*b, i).ok());
  EXPECT_TRUE(b->ProcessOneBatch());
  ASSERT_EQ(batches_.size(), 1u);
  EXPECT_EQ(batches_[0], (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(b->ProcessOneBatch());  // Task 4 waits for its delay.
  EXPECT_EQ(b->queue_size(), 1u);
}

TEST_F(BatcherTest, ZeroDelayDispatchesImmediately) {
  auto b = Make({.max_batch_size = 8, .max_queue_delay_us = 0, .max_queue_size = 10});
  ASSERT_TRUE(Add(*b, 7).ok());
  EXPECT_TRUE(b->ProcessOneBatch());
  EXPECT_EQ(batches_.at(0), (std::vector<int>{7}));
}

TEST_F(BatcherTest, BucketsNeverMix) {
  auto b = Make({.max_batch_size = 8, .max_queue_delay_us = 100, .max_queue_size = 10});
  ASSERT_TRUE(Add(*b, 1, "640x640").ok());
  ASSERT_TRUE(Add(*b, 2, "896x640").ok());
  ASSERT_TRUE(Add(*b, 3, "640x640").ok());
  clock_.Advance(absl::Microseconds(100));
  EXPECT_TRUE(b->ProcessOneBatch());
  EXPECT_TRUE(b->ProcessOneBatch());
  ASSERT_EQ(batches_.size(), 2u);
  EXPECT_EQ(batches_[0], (std::vector<int>{1, 3}));  // Oldest head first.
  EXPECT_EQ(batches_[1], (std::vector<int>{2}));
}

TEST_F(BatcherTest, ExpiredTasksFailBeforeEnteringABatch) {
  auto b = Make({.max_batch_size = 8, .max_queue_delay_us = 100, .max_queue_size = 10});
  absl::Status failed;
  ASSERT_TRUE(Add(*b, 1, "a", clock_.Now() + absl::Microseconds(50), &failed).ok());
  ASSERT_TRUE(Add(*b, 2).ok());
  clock_.Advance(absl::Microseconds(100));
  EXPECT_TRUE(b->ProcessOneBatch());
  EXPECT_EQ(failed.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(batches_.at(0), (std::vector<int>{2}));
}

TEST_F(BatcherTest, CancelledTasksFailBeforeEnteringABatch) {
  auto b = Make({.max_batch_size = 8, .max_queue_delay_us = 0, .max_queue_size = 10});
  absl::Status failed;
  auto t = std::make_unique<FakeTask>();
  t->id = 1;
  t->failed_with = &failed;
  FakeTask* raw = t.get();
  ASSERT_TRUE(b->Schedule(t).ok());
  raw->cancelled = true;
  EXPECT_TRUE(b->ProcessOneBatch());
  EXPECT_EQ(failed.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(batches_.empty());
}

TEST_F(BatcherTest, OverflowIsResourceExhaustedAndKeepsTheTask) {
  auto b = Make({.max_batch_size = 8, .max_queue_delay_us = 100, .max_queue_size = 2});
  ASSERT_TRUE(Add(*b, 1).ok());
  ASSERT_TRUE(Add(*b, 2).ok());
  auto t = std::make_unique<FakeTask>();
  absl::Status s = b->Schedule(t);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("max_queue_size = 2"), std::string::npos);
  EXPECT_NE(t, nullptr);
}

TEST_F(BatcherTest, ShutdownRefusesNewTasksAndFlushesQueued) {
  auto b = Make({.max_batch_size = 8, .max_queue_delay_us = 1000000, .max_queue_size = 10});
  ASSERT_TRUE(Add(*b, 1).ok());
  b->Shutdown();
  EXPECT_EQ(Add(*b, 2).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(b->ProcessOneBatch());  // Stopping: no delay wait.
  EXPECT_EQ(batches_.at(0), (std::vector<int>{1}));
}

TEST(BatcherThreadsTest, RealThreadsDeliverEveryTaskOnce) {
  std::atomic<int> seen{0};
  auto b = Batcher<FakeTask>::Create({.max_batch_size = 4,
                                      .max_queue_delay_us = 200,
                                      .max_queue_size = 1000,
                                      .num_batch_threads = 2},
                                     RealClock::Get(),
                                     [&](std::vector<std::unique_ptr<FakeTask>> batch) {
                                       EXPECT_LE(batch.size(), 4u);
                                       seen += static_cast<int>(batch.size());
                                     });
  ASSERT_TRUE(b.ok());
  for (int i = 0; i < 500; ++i) {
    auto t = std::make_unique<FakeTask>();
    t->bucket_name = i % 2 ? "x" : "y";
    ASSERT_TRUE((*b)->Schedule(t).ok());
  }
  (*b)->Shutdown();
  EXPECT_EQ(seen.load(), 500);
}

TEST(BatcherOptionsTest, RejectsInvalidOptions) {
  auto fn = [](std::vector<std::unique_ptr<FakeTask>>) {};
  EXPECT_FALSE(Batcher<FakeTask>::Create({.max_batch_size = 0}, RealClock::Get(), fn).ok());
  EXPECT_FALSE(Batcher<FakeTask>::Create({.max_queue_size = 0}, RealClock::Get(), fn).ok());
}

}  // namespace
}  // namespace ovseg
