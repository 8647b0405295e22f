// The HTTP gateway's wire format: multipart forms and JSON as SegmentRequests, statuses as
// HTTP codes and error bodies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/http/form_request.h"
#include "server/http/json_codec.h"

namespace ovseg {
namespace {

TEST(FormRequestTest, LabelsKeepTheOrderOfTheFieldsWithSynonymsAndStuff) {
  absl::StatusOr<v1::SegmentRequest> r = SegmentRequestFromForm({
      {"image", "x.jpg", "JPEGBYTES"},
      {"labels", "", " cat, dog ,"},
      {"label", "", "fire hydrant, hydrant"},
      {"labels", "", "grass"},
      {"stuff", "", "grass"},
      {"task", "", "Panoptic"},
      {"head_mode", "", "fused"},
      {"mask_format", "", "PNG"},
      {"max_segments", "", "7"},
      {"score_threshold", "", "0.25"},
      {"return_semantic_map", "", "true"},
      {"region", "r.png", "PNGBYTES"},
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image().encoded(), "JPEGBYTES");
  ASSERT_EQ(r->labels().labels_size(), 4);
  EXPECT_EQ(r->labels().labels(0).name(), "cat");
  EXPECT_EQ(r->labels().labels(1).name(), "dog");
  EXPECT_EQ(r->labels().labels(2).name(), "fire hydrant, hydrant");
  EXPECT_EQ(r->labels().labels(3).name(), "grass");
  EXPECT_FALSE(r->labels().labels(0).has_is_thing());
  ASSERT_TRUE(r->labels().labels(3).has_is_thing());
  EXPECT_FALSE(r->labels().labels(3).is_thing());
  EXPECT_EQ(r->task(), v1::PANOPTIC);
  EXPECT_EQ(r->options().head_mode(), v1::FUSED);
  EXPECT_EQ(r->options().mask_format(), v1::PNG);
  EXPECT_EQ(r->options().max_segments(), 7u);
  EXPECT_FLOAT_EQ(r->options().score_threshold(), 0.25f);
  EXPECT_TRUE(r->options().return_semantic_map());
  ASSERT_EQ(r->regions_size(), 1);
  EXPECT_EQ(r->regions(0).png(), "PNGBYTES");
}

TEST(FormRequestTest, RefusesNamingTheField) {
  auto message_of = [](std::vector<FormField> fields) {
    absl::StatusOr<v1::SegmentRequest> r = SegmentRequestFromForm(fields);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  const FormField image{"image", "x.jpg", "J"};
  {
    EXPECT_NE(message_of({{"labels", "", "cat"}}).find("image"), std::string::npos);
    EXPECT_NE(message_of({image, {"task", "", "semantically"}}).find("task"), std::string::npos);
    EXPECT_NE(message_of({image, {"head_mode", "", "both"}}).find("mask, dense, fused"),
              std::string::npos);
    EXPECT_NE(message_of({image, {"max_segments", "", "-1"}}).find("max_segments"),
              std::string::npos);
    EXPECT_NE(message_of({image, {"score_threshold", "", "high"}}).find("score_threshold"),
              std::string::npos);
    EXPECT_NE(message_of({image, {"colour", "", "red"}}).find("unknown form field \"colour\""),
              std::string::npos);
    EXPECT_NE(
        message_of({image, {"task", "", "semantic"}, {"task", "", "panoptic"}}).find("given twice"),
        std::string::npos);
    EXPECT_NE(message_of({image, {"labels", "", "cat"}, {"stuff", "", "sky"}}).find("\"sky\""),
              std::string::npos);
    EXPECT_NE(
        message_of({image, {"vocabulary_id", "", "v"}, {"labels", "", "cat"}}).find("not both"),
        std::string::npos);
  }
}

TEST(JsonCodecTest, ParsesCanonicalAndSnakeCaseNamesAndBase64Bytes) {
  v1::SegmentRequest r;
  ASSERT_TRUE(ParseJsonMessage(R"({"image": {"encoded": "aGVsbG8="},
      "labels": {"labels": [{"name": "cat", "isThing": false}]},
      "task": "PANOPTIC", "options": {"mask_format": "PNG", "maxSegments": 3}})",
                               &r)
                  .ok());
  EXPECT_EQ(r.image().encoded(), "hello");
  EXPECT_EQ(r.labels().labels(0).name(), "cat");
  EXPECT_FALSE(r.labels().labels(0).is_thing());
  EXPECT_EQ(r.task(), v1::PANOPTIC);
  EXPECT_EQ(r.options().mask_format(), v1::PNG);
  EXPECT_EQ(r.options().max_segments(), 3u);
}

TEST(JsonCodecTest, RefusesUnknownFieldsAndBadJsonAsInvalidArgument) {
  v1::SegmentRequest r;
  absl::Status s = ParseJsonMessage(R"({"imagee": {}})", &r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("ovseg.v1.SegmentRequest"), std::string::npos) << s;
  EXPECT_NE(s.message().find("imagee"), std::string::npos) << s;
  EXPECT_EQ(ParseJsonMessage("{not json", &r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseJsonMessage(R"({"task": "SOMETIMES"})", &r).code(),
            absl::StatusCode::kInvalidArgument);
  // A long body is not echoed whole.
  const std::string garbage(100000, 'x');
  s = ParseJsonMessage(garbage, &r);
  EXPECT_LT(s.message().size(), 400u) << s.message().size();
}

TEST(JsonCodecTest, PrintsDefaultsSoLabelIndexZeroIsThere) {
  v1::SegmentResponse response;
  v1::Segment* seg = response.add_segments();
  seg->set_label("cat");
  seg->set_area(12);
  const nlohmann::json j = nlohmann::json::parse(ToJson(response));
  EXPECT_EQ(j["segments"][0]["labelIndex"], 0);
  EXPECT_EQ(j["segments"][0]["label"], "cat");
  EXPECT_EQ(j["segments"][0]["area"], "12");  // 64-bit integers are strings in proto3 JSON
}

TEST(JsonCodecTest, StatusesMapToHttpAsGoogleApisDo) {
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kCancelled), 499);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kInternal), 500);
  const nlohmann::json e = nlohmann::json::parse(
      ErrorJson(absl::NotFoundError("vocabulary_id \"x\" is not registered")));
  EXPECT_EQ(e["error"]["code"], 404);
  EXPECT_EQ(e["error"]["status"], "NOT_FOUND");
  EXPECT_EQ(e["error"]["message"], "vocabulary_id \"x\" is not registered");
  EXPECT_EQ(
      nlohmann::json::parse(ErrorJson(absl::InvalidArgumentError("big"), 413))["error"]["code"],
      413);
  // Invalid UTF-8 from a client cannot break the body.
  EXPECT_NO_THROW(nlohmann::json::parse(ErrorJson(absl::InvalidArgumentError("bad \xff byte"))));
}

}  // namespace
}  // namespace ovseg
