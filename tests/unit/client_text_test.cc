// Bounded quoting of client text in errors (common/client_text.h) and the cap on
// every status message (server/common/grpc_status.h).
#include "common/client_text.h"

#include <gtest/gtest.h>

#include <string>

#include "server/common/grpc_status.h"

namespace ovseg {
namespace {

TEST(ClientTextTest, ShortTextIsQuotedWhole) {
  EXPECT_EQ(QuoteClientText("cat"), "\"cat\"");
  EXPECT_EQ(QuoteClientText(""), "\"\"");
}

TEST(ClientTextTest, LongTextIsCutAndItsSizeNamed) {
  const std::string quoted = QuoteClientText(std::string(1 << 20, 'x'));
  EXPECT_EQ(quoted, "\"" + std::string(kMaxQuotedBytes, 'x') + "...\" (1048576 bytes)");
}

TEST(ClientTextTest, ControlAndInvalidUtf8BytesAreEscaped) {
  EXPECT_EQ(QuoteClientText(std::string("a\xff\n\"b", 5)), "\"a\\xff\\n\\\"b\"");
}

TEST(GrpcStatusTest, MessagesAreCappedAndCodesKept) {
  const grpc::Status s = ToGrpcStatus(absl::NotFoundError(std::string(100000, 'm')));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LT(s.error_message().size(), kMaxStatusMessageBytes + 40);
  EXPECT_NE(s.error_message().find("(100000 bytes in all)"), std::string::npos);
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("short")).error_message(), "short");
}

}  // namespace
}  // namespace ovseg
