// Request memory estimates and the in-flight account (server/service/request_memory.h).
#include "server/service/request_memory.h"

#include <gtest/gtest.h>

namespace ovseg {
namespace {

RequestShape F1() {  // The hardening issue's F1: 4096 x 4096, 1000 instance masks.
  RequestShape s;
  s.image_pixels = uint64_t{4096} * 4096;
  s.bucket_pixels = 256 * 256;
  s.labels = 100;
  s.per_segment_masks = true;
  s.max_segments = 1000;
  s.semantic_map = true;
  return s;
}

TEST(RequestMemoryTest, EstimateGrowsWithEverySizeTheClientChooses) {
  const RequestMemoryEstimate e = EstimateRequestMemory(F1());
  EXPECT_EQ(e.decode, uint64_t{4096} * 4096 * 6 + 256 * 256 * 3);
  EXPECT_EQ(e.regions, 0u);
  EXPECT_EQ(e.model, uint64_t{100} * 256 * 256 * 8 + uint64_t{1000} * 256 * 256 * 9);
  RequestShape semantic = F1();
  semantic.per_segment_masks = false;
  semantic.semantic = true;
  EXPECT_EQ(EstimateRequestMemory(semantic).model,
            uint64_t{100} * 256 * 256 * 8 + uint64_t{100} * 256 * 256 * 4);
  EXPECT_EQ(e.encode, uint64_t{4096} * 4096 * 9 + uint64_t{1000} * 4096 * 4096 / 8);
  RequestShape no_masks = F1();
  no_masks.masks = false;
  EXPECT_EQ(e.total() - EstimateRequestMemory(no_masks).total(), uint64_t{1000} * 4096 * 4096 / 8);
  RequestShape regions = F1();
  regions.regions = 10;
  EXPECT_EQ(EstimateRequestMemory(regions).regions,
            uint64_t{4096} * 4096 * 8 + uint64_t{10} * 256 * 256 * 13);
  regions.regions = 256;  // more regions than proposals: each is classified
  EXPECT_EQ(EstimateRequestMemory(regions).model - e.model, uint64_t{156} * 256 * 256 * 8);
}

TEST(RequestMemoryTest, OverTheLimitIsNamedWithWhatToChange) {
  const absl::Status s = CheckRequestMemory(F1(), uint64_t{1} << 30);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("limits.max_request_memory_bytes = 1073741824"), std::string::npos);
  EXPECT_NE(s.message().find("options.max_segments"), std::string::npos) << s;
  RequestShape hundred = F1();
  hundred.max_segments = 100;
  EXPECT_TRUE(CheckRequestMemory(hundred, uint64_t{1} << 30).ok());
}

TEST(InflightMemoryTest, ReservesUpToTheLimitAndReleases) {
  InflightMemory memory(100);
  EXPECT_TRUE(memory.Reserve(60).ok());
  const absl::Status busy = memory.Reserve(50);
  EXPECT_EQ(busy.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(busy.message().find("limits.max_inflight_memory_bytes = 100"), std::string::npos);
  EXPECT_EQ(memory.used(), 60u);  // a refusal reserves nothing
  EXPECT_TRUE(memory.Reserve(40).ok());
  memory.Release(60);
  EXPECT_TRUE(memory.Reserve(50).ok());
  EXPECT_EQ(memory.used(), 90u);
}

}  // namespace
}  // namespace ovseg
