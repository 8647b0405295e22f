#include "model/clip/clip_tokenizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/clip/prompt_templates.h"

namespace ovseg {
namespace {

struct Vector {
  std::string text;
  std::vector<int> tokens;
};

// Ids from OpenAI's simple_tokenizer for every label of the shared vocabularies (ADE-150/
// 847, PC-59/459, COCO, LVIS, Cityscapes, Mapillary, VOC), the ViLD prompts and tricky
// strings (scripts/testdata/make_clip_tokenizer_vectors.py).
std::vector<Vector> LoadVectors() {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  std::ifstream in(std::string(root ? root : ".") + "/tests/data/clip_tokenizer_vectors.json");
  EXPECT_TRUE(in.good());
  std::vector<Vector> out;
  for (const auto& v : nlohmann::json::parse(in)) {
    out.push_back({v["text"].get<std::string>(), v["tokens"].get<std::vector<int>>()});
  }
  return out;
}

TEST(ClipTokenizerTest, MatchesOpenAiForEveryVocabularyLabelAndTrickyText) {
  const std::vector<Vector> vectors = LoadVectors();
  ASSERT_GT(vectors.size(), 3000u);
  const ClipTokenizer& tokenizer = ClipTokenizer::Default();
  EXPECT_EQ(tokenizer.vocab_size(), 49408);
  int mismatches = 0;
  for (const Vector& v : vectors) {
    const std::vector<int> got = tokenizer.Tokenize(v.text);
    if (got != v.tokens && ++mismatches <= 10) {
      ADD_FAILURE() << "text \"" << v.text << "\": got " << ::testing::PrintToString(got)
                    << ", OpenAI " << ::testing::PrintToString(v.tokens);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(ClipTokenizerTest, TruncationKeepsTheEndToken) {
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "word ";
  const std::vector<int> tokens = ClipTokenizer::Default().Tokenize(long_text);
  ASSERT_EQ(tokens.size(), 77u);
  EXPECT_EQ(tokens.front(), ClipTokenizer::kStartOfText);
  EXPECT_EQ(tokens.back(), ClipTokenizer::kEndOfText);
  EXPECT_EQ(ClipTokenizer::Default().Tokenize("cat", 2),
            (std::vector<int>{ClipTokenizer::kStartOfText, ClipTokenizer::kEndOfText}));
}

TEST(ClipTokenizerTest, InvalidUtf8IsReadAsReplacementCharacters) {
  const ClipTokenizer& t = ClipTokenizer::Default();
  EXPECT_EQ(t.Encode("a\xff"
                     "b"),
            t.Encode("a\xef\xbf\xbd"
                     "b"));
  EXPECT_EQ(t.Encode("\xc0\xaf"), t.Encode("\xef\xbf\xbd\xef\xbf\xbd"));  // Overlong '/'.
}

TEST(ClipTokenizerTest, HuggingFaceFilesGiveTheSameIds) {
  const std::string dir = ::testing::TempDir();
  const std::string vocab = dir + "/vocab.json", merges = dir + "/merges.txt";
  ASSERT_TRUE(ClipTokenizer::Default().SaveHuggingFaceFiles(vocab, merges).ok());
  auto hf = ClipTokenizer::FromHuggingFaceFiles(vocab, merges);
  ASSERT_TRUE(hf.ok()) << hf.status();
  for (const Vector& v : LoadVectors()) EXPECT_EQ((*hf)->Tokenize(v.text), v.tokens) << v.text;
}

TEST(ClipTokenizerTest, MalformedFilesAreNamedErrors) {
  const std::string dir = ::testing::TempDir();
  {
    std::ofstream(dir + "/bad_vocab.json") << "[1, 2]";
    std::ofstream(dir + "/merges.txt") << "#version: 0.2\na b\n";
  }
  EXPECT_EQ(ClipTokenizer::FromHuggingFaceFiles(dir + "/bad_vocab.json", dir + "/merges.txt")
                .status()
                .message(),
            dir + "/bad_vocab.json: not a JSON object of token -> id");
  {
    std::ofstream(dir + "/small_vocab.json")
        << R"({"a": 0, "<|startoftext|>": 1, "<|endoftext|>": 2})";
  }
  EXPECT_NE(ClipTokenizer::FromHuggingFaceFiles(dir + "/small_vocab.json", dir + "/merges.txt")
                .status()
                .message()
                .find("is missing (not a byte-level BPE vocabulary)"),
            std::string::npos);
  EXPECT_EQ(ClipTokenizer::FromBpeGzip("not gzip").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClipTokenizer::FromBpeGzipFile("/nonexistent.gz").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ovseg

namespace ovseg {
namespace {

TEST(PromptTemplatesTest, SetsFillAndEnsemble) {
  EXPECT_EQ(PromptTemplateSet("vild")->size(), 14u);
  EXPECT_EQ(PromptTemplateSet("none")->front(), "{}");
  EXPECT_FALSE(PromptTemplateSet("all").ok());
  EXPECT_EQ(FillTemplate("a {} and a {}.", "cat"), "a cat and a cat.");
  // Label 0: rows (3,4) and (0,2) -> normalised (0.6,0.8) + (0,1) = (0.6,1.8) -> /|.|.
  PromptEnsemble e(2, 2);
  const float a[2] = {3, 4}, b[2] = {0, 2}, zero[2] = {0, 0};
  e.Add(0, a);
  e.Add(0, b);
  e.Add(1, zero);  // A zero row is skipped, not a NaN.
  const std::vector<std::vector<float>> out = std::move(e).Finish();
  const double n = std::sqrt(0.6 * 0.6 + 1.8 * 1.8);
  EXPECT_NEAR(out[0][0], 0.6 / n, 1e-6);
  EXPECT_NEAR(out[0][1], 1.8 / n, 1e-6);
  EXPECT_EQ(out[1], (std::vector<float>{0, 0}));
}

}  // namespace
}  // namespace ovseg
