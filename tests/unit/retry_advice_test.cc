// Retry advice on a refusal's status (common/retry_advice.h).
#include "common/retry_advice.h"

#include <gtest/gtest.h>

namespace ovseg {
namespace {

TEST(RetryAdviceTest, RoundTripsInWholeMillisecondsWithinBounds) {
  const absl::Status refused = absl::ResourceExhaustedError("busy");
  EXPECT_FALSE(RetryAfterOf(refused).has_value());
  const absl::Status advised = WithRetryAfter(refused, absl::Milliseconds(1234.7));
  EXPECT_EQ(advised.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(advised.message(), "busy");
  EXPECT_EQ(RetryAfterOf(advised), absl::Milliseconds(1234));
  // Never "now" (a zero pushback would tell clients to hammer) and never past an hour.
  EXPECT_EQ(RetryAfterOf(WithRetryAfter(refused, absl::ZeroDuration())), absl::Milliseconds(1));
  EXPECT_EQ(RetryAfterOf(WithRetryAfter(refused, absl::Seconds(-3))), absl::Milliseconds(1));
  EXPECT_EQ(RetryAfterOf(WithRetryAfter(refused, absl::Hours(5))), absl::Hours(1));
}

}  // namespace
}  // namespace ovseg
