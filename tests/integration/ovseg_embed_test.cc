// ovseg-embed end to end: runs the binary, parses its JSON, compares with references from
// openai/CLIP (tests/data/clip_tiny/reference.json, tests/data/clip_tokenizer_vectors.json).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

namespace {

std::string Source() {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  return root ? root : ".";
}

struct Result {
  int exit_code;
  std::string out;
};

Result RunEmbed(const std::string& args) {
  const std::string command = std::string(OVSEG_EMBED_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
}

nlohmann::json Reference() {
  std::ifstream in(Source() + "/tests/data/clip_tiny/reference.json");
  return nlohmann::json::parse(in);
}

// The reference's 8-bit test pattern, written as PNG.
std::string WritePattern(int w, int h) {
  cv::Mat bgr(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        bgr.at<cv::Vec3b>(y, x)[2 - c] =
            static_cast<uint8_t>(std::min(255, 2 * x + 2 * y + 40 * c + (x * y) % 7));
      }
    }
  }
  const std::string path =
      ::testing::TempDir() + "/pattern_" + std::to_string(w) + "x" + std::to_string(h) + ".png";
  cv::imwrite(path, bgr);
  return path;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

TEST(OvsegEmbedTest, TokenizeMatchesOpenAi) {
  const Result r = RunEmbed("tokenize --text 'a photo of a cat.' --text \"chest of drawers\"");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["tokens"][0], (std::vector<int>{49406, 320, 1125, 539, 320, 2368, 269, 49407}));
  std::ifstream in(Source() + "/tests/data/clip_tokenizer_vectors.json");
  for (const auto& v : nlohmann::json::parse(in)) {
    if (v["text"] == "chest of drawers") {
      EXPECT_EQ(json["tokens"][1], v["tokens"]);
    }
  }
}

TEST(OvsegEmbedTest, ImageAtModelResolutionMatchesOpenAiPreprocessAndModel) {
  const nlohmann::json ref = Reference()["png_32x32"];
  const Result r =
      RunEmbed("encode --clip " + Source() + "/tests/data/clip_tiny/openai.safetensors" +
               " --quick-gelu true --image " + WritePattern(32, 32));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_LE(MaxAbsDiff(json["image_embeds"][0].get<std::vector<float>>(),
                       ref["image"].get<std::vector<float>>()),
            1e-4);
}

TEST(OvsegEmbedTest, ResizedImageIsCloseToPilBicubicAndCrop) {
  const nlohmann::json ref = Reference()["png_48x40"];
  const Result r =
      RunEmbed("encode --clip " + Source() + "/tests/data/clip_tiny/openai.safetensors" +
               " --quick-gelu true --image " + WritePattern(48, 40));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto json = nlohmann::json::parse(r.out);
  // PIL's bicubic filter is matched closely, not bit for bit (embeddings of order 1).
  EXPECT_LE(MaxAbsDiff(json["image_embeds"][0].get<std::vector<float>>(),
                       ref["image"].get<std::vector<float>>()),
            5e-3);  // Measured 2.4e-3.
}

TEST(OvsegEmbedTest, ErrorsAreMessagesNotCrashes) {
  Result r = RunEmbed("encode --clip " + Source() +
                      "/tests/data/clip_tiny/openai.safetensors --quick-gelu true --text cat");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("exceeds the model's vocabulary of 512"), std::string::npos) << r.out;
  r = RunEmbed("encode --clip " + Source() + "/tests/data/clip_tiny/openai.safetensors");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("set quick_gelu"), std::string::npos) << r.out;
  r = RunEmbed("encode --clip /nonexistent.safetensors --quick-gelu true");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("cannot open /nonexistent.safetensors"), std::string::npos) << r.out;
  r = RunEmbed("encode --templates many --clip x");
  EXPECT_NE(r.out.find("template set \"many\""), std::string::npos) << r.out;
  r = RunEmbed("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
