// A checkpoint's self-description, LibTorch-free: what is written parses back, and what
// an untrusted file may claim is refused with the field named before any model is built
// from it (sizes that would ask for an absurd allocation, or divide by zero in the head).
#include "model/serving/checkpoint_metadata.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/fakes/tiny_fgaseg_config.h"

namespace ovseg {
namespace {

CheckpointMetadata Sample() {
  CheckpointMetadata m;
  m.preset = "fovseg-vit-b16";
  m.clip_sha256 = std::string(64, 'a');
  m.mask_generator_sha256 = std::string(64, 'b');
  m.classifier.use_teva = false;
  m.classifier.adapter_hidden = 24;
  m.classifier.temperature = 50;
  m.step = 1234;
  m.training_vocabulary = {"red circle", "blue square"};
  m.prompt_templates = {"a photo of a {}."};
  m.eval_metrics_json = R"({"PQ": 4.7})";
  m.fgaseg_config_json = FgaSegConfigJson(testing::TinyFgaSegConfig());
  return m;
}

std::map<std::string, std::string> Entries(const CheckpointMetadata& m) {
  absl::StatusOr<std::map<std::string, std::string>> entries = CheckpointMetadataEntries(m);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *entries : std::map<std::string, std::string>{};
}

// The error of parsing Sample()'s entries with one JSON field of one entry replaced.
absl::Status WithField(const std::string& entry, const std::string& key,
                       const nlohmann::json& value) {
  std::map<std::string, std::string> entries = Entries(Sample());
  nlohmann::json j = nlohmann::json::parse(entries.at(entry));
  j[key] = value;
  entries[entry] = j.dump();
  return ParseCheckpointMetadata(entries, "ckpt.safetensors").status();
}

void ExpectRefusedNaming(const absl::Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(std::string(status.message()).find(field), std::string::npos) << status;
}

TEST(CheckpointMetadataTest, WrittenEntriesParseBackToTheSameMetadata) {
  absl::StatusOr<CheckpointMetadata> parsed =
      ParseCheckpointMetadata(Entries(Sample()), "ckpt.safetensors");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const CheckpointMetadata want = Sample();
  EXPECT_EQ(parsed->preset, want.preset);
  EXPECT_EQ(parsed->clip_sha256, want.clip_sha256);
  EXPECT_EQ(parsed->mask_generator_sha256, want.mask_generator_sha256);
  EXPECT_FALSE(parsed->classifier.use_teva);
  EXPECT_EQ(parsed->classifier.adapter_hidden, 24);
  EXPECT_EQ(parsed->classifier.temperature, 50);
  EXPECT_EQ(parsed->step, 1234);
  EXPECT_EQ(parsed->training_vocabulary, want.training_vocabulary);
  EXPECT_EQ(parsed->prompt_templates, want.prompt_templates);
  EXPECT_EQ(parsed->eval_metrics_json, want.eval_metrics_json);
  absl::StatusOr<FgaSegConfig> head = ParseFgaSegConfigJson(parsed->fgaseg_config_json);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->hidden_dim, testing::TinyFgaSegConfig().hidden_dim);
  EXPECT_EQ(head->decoder_guidance_dims, testing::TinyFgaSegConfig().decoder_guidance_dims);
}

TEST(CheckpointMetadataTest, TheDefaultHeadsOfEveryClipSizeAreAccepted) {
  for (auto [layers, width, embed] :
       {std::tuple{12, 768, 512}, {24, 1024, 768}, {48, 1664, 1280}, {4, 128, 128}}) {
    const std::string json = FgaSegConfigJson(FgaSegConfigForClip(layers, width, embed));
    EXPECT_TRUE(ParseFgaSegConfigJson(json).ok())
        << json << ": " << ParseFgaSegConfigJson(json).status();
  }
}

TEST(CheckpointMetadataTest, MissingAndMalformedFieldsAreNamed) {
  std::map<std::string, std::string> entries = Entries(Sample());
  entries.erase("clip_sha256");
  ExpectRefusedNaming(ParseCheckpointMetadata(entries, "ckpt.safetensors").status(),
                      "\"clip_sha256\" is missing");
  entries = Entries(Sample());
  entries["step"] = "-3";
  ExpectRefusedNaming(ParseCheckpointMetadata(entries, "x").status(), "\"step\"");
  entries = Entries(Sample());
  entries["training_vocabulary"] = "[1, 2";
  ExpectRefusedNaming(ParseCheckpointMetadata(entries, "x").status(), "malformed metadata");
  entries = Entries(Sample());
  entries["fgaseg_config"] = "{}";
  ExpectRefusedNaming(ParseCheckpointMetadata(entries, "x").status(), "fgaseg_config");
}

TEST(CheckpointMetadataTest, ClassifierSizesOutsideTheirBoundsAreRefused) {
  ExpectRefusedNaming(WithField("classifier_config", "adapter_hidden", int64_t{1} << 40),
                      "adapter_hidden");
  ExpectRefusedNaming(WithField("classifier_config", "adapter_hidden", 0), "adapter_hidden");
  ExpectRefusedNaming(WithField("classifier_config", "temperature", 1e300), "temperature");
  ExpectRefusedNaming(WithField("classifier_config", "temperature", -1.0), "temperature");
  // JSON has no NaN; a NaN written by nlohmann becomes null, a type error.
  ExpectRefusedNaming(
      WithField("classifier_config", "temperature", std::numeric_limits<double>::quiet_NaN()),
      "malformed metadata");
}

TEST(CheckpointMetadataTest, HeadSizesThatWouldExhaustMemoryOrDivideByZeroAreRefused) {
  ExpectRefusedNaming(WithField("fgaseg_config", "hidden_dim", int64_t{1} << 30), "hidden_dim");
  ExpectRefusedNaming(WithField("fgaseg_config", "clip_width", -5), "clip_width");
  ExpectRefusedNaming(WithField("fgaseg_config", "layers", 1000), "layers");
  ExpectRefusedNaming(WithField("fgaseg_config", "heads", 0), "heads");
  ExpectRefusedNaming(WithField("fgaseg_config", "heads", 3), "not a multiple of heads");
  ExpectRefusedNaming(WithField("fgaseg_config", "p2t_heads", 0), "p2t_heads");
  ExpectRefusedNaming(WithField("fgaseg_config", "window", 0), "window");
  ExpectRefusedNaming(WithField("fgaseg_config", "pooling", 0), "pooling");
  ExpectRefusedNaming(WithField("fgaseg_config", "kernel_size", 4), "kernel_size");
  ExpectRefusedNaming(WithField("fgaseg_config", "guidance_layers", nlohmann::json({3})),
                      "guidance_layers has 1 entries");
  ExpectRefusedNaming(WithField("fgaseg_config", "decoder_dims", nlohmann::json({8, 16})),
                      "decoder_dims[0]");
  ExpectRefusedNaming(WithField("fgaseg_config", "top_k", -1), "top_k");
}

TEST(CheckpointMetadataTest, ErrorsQuoteAtMostABoundedPrefixOfTheFile) {
  std::map<std::string, std::string> entries = Entries(Sample());
  entries["format"] = std::string(1 << 20, 'x');
  const absl::Status status = ParseCheckpointMetadata(entries, "ckpt.safetensors").status();
  ExpectRefusedNaming(status, "\"format\"");
  EXPECT_LT(status.message().size(), 300u) << status.message().substr(0, 300);
  EXPECT_NE(std::string(status.message()).find("(1048576 bytes)"), std::string::npos);
}

}  // namespace
}  // namespace ovseg
