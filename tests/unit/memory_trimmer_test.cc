// FreedMemoryTrimmer (server/common/process_tuning.h): trims at most once per interval.
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "server/common/process_tuning.h"

namespace ovseg {
namespace {

TEST(FreedMemoryTrimmerTest, TrimsAtMostOncePerInterval) {
  FreedMemoryTrimmer trimmer(absl::Milliseconds(50));
  EXPECT_TRUE(trimmer.MaybeTrim());  // never trimmed yet
  EXPECT_FALSE(trimmer.MaybeTrim());
  absl::SleepFor(absl::Milliseconds(60));
  EXPECT_TRUE(trimmer.MaybeTrim());
  EXPECT_FALSE(trimmer.MaybeTrim());
}

}  // namespace
}  // namespace ovseg
