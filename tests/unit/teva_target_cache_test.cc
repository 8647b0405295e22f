// TevaTargetCache: hits, misses, least-recently-used eviction within the byte budget.
#include "model/teva/teva_target_cache.h"

#include <gtest/gtest.h>

namespace ovseg {
namespace {

// Targets of `labels` classes, 1 block, 1 head of width 4, fp32: labels * 32 bytes.
TevaTargets Fake(int64_t labels, float value) {
  TevaTargets t;
  t.keys.push_back(torch::full({1, 1, labels, 4}, value));
  t.values.push_back(torch::full({1, 1, labels, 4}, value));
  t.valid = torch::ones({1, labels}, torch::kBool);
  return t;
}

TEST(TevaTargetCacheTest, HitsMissesAndLeastRecentlyUsedEviction) {
  TevaTargetCache cache(/*max_bytes=*/100);  // Room for three 1-label entries (32 B each).
  int computed = 0;
  auto get = [&](const std::string& key) {
    return cache.Get(key, [&] {
      ++computed;
      return Fake(1, static_cast<float>(key[0]));
    });
  };
  EXPECT_EQ(get("a")->keys[0].max().item<float>(), 'a');
  get("b");
  get("c");
  EXPECT_EQ(computed, 3);
  get("a");  // Hit: "a" becomes the most recent, "b" the least.
  EXPECT_EQ(computed, 3);
  get("d");  // Evicts "b".
  TevaTargetCache::Stats s = cache.stats();
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.misses, 4);
  EXPECT_EQ(s.evictions, 1);
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.bytes, 96);
  get("a");
  get("c");
  EXPECT_EQ(computed, 4);
  get("b");
  EXPECT_EQ(computed, 5);
}

TEST(TevaTargetCacheTest, TargetsLargerThanTheBudgetAreComputedButNotKept) {
  TevaTargetCache cache(/*max_bytes=*/100);
  int computed = 0;
  auto big = [&] {
    ++computed;
    return Fake(10, 1.0f);  // 320 bytes.
  };
  EXPECT_EQ(cache.Get("big", big)->num_targets(), 10);
  cache.Get("big", big);
  EXPECT_EQ(computed, 2);
  EXPECT_EQ(cache.stats().bytes, 0);
  TevaTargetCache off(/*max_bytes=*/0);
  off.Get("x", [] { return Fake(1, 0.0f); });
  EXPECT_EQ(off.stats().entries, 0);
}

TEST(TevaTargetCacheTest, DifferentVocabulariesArePaddedWithInvalidRows) {
  auto a = std::make_shared<const TevaTargets>(Fake(2, 1.0f));
  auto b = std::make_shared<const TevaTargets>(Fake(5, 2.0f));
  const std::shared_ptr<const TevaTargets> batch = BatchTevaTargets({a, b});
  ASSERT_EQ(batch->keys[0].sizes(), (std::vector<int64_t>{2, 1, 5, 4}));
  EXPECT_EQ(batch->valid.sum(1)[0].item<int64_t>(), 2);
  EXPECT_EQ(batch->valid.sum(1)[1].item<int64_t>(), 5);
  EXPECT_EQ(batch->values[0][0][0][1][0].item<float>(), 1.0f);
  EXPECT_EQ(batch->values[0][0][0][4][0].item<float>(), 0.0f);  // Padding.
  EXPECT_EQ(batch->keys[0][1][0][4][0].item<float>(), 2.0f);
}

}  // namespace
}  // namespace ovseg
