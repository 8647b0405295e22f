// Safetensors as LibTorch tensors: round trip of every dtype, zero copy where aligned,
// private pages, and each malformed-file case as a named error (never a crash).
#include "model/weights/safetensors_file.h"

#include <gtest/gtest.h>

#include <fstream>

namespace ovseg {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteRaw(const std::string& path, const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  std::ofstream(path, std::ios::binary) << out << json << data;
}

TEST(SafetensorsFileTest, RoundTripsEveryDtypeWithMetadata) {
  const std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"f32", torch::randn({3, 4})},
      {"f16", torch::randn({5}).to(torch::kFloat16)},
      {"bf16", torch::randn({2, 3}).to(torch::kBFloat16)},
      {"f64", torch::randn({2}, torch::kFloat64)},
      {"i64", torch::arange(6, torch::kInt64).reshape({2, 3})},
      {"i32", torch::arange(3, torch::kInt32)},
      {"i16", torch::arange(3, torch::kInt16)},
      {"i8", torch::arange(-2, 2, torch::kInt8)},
      {"u8", torch::arange(7, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"empty", torch::zeros({0, 5})},
      {"scalar", torch::full({}, 3.5f)},
      {"strided", torch::randn({4, 6}).t()},  // Written contiguous.
  };
  const std::string path = TempPath("roundtrip.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"step", "12"}, {"format", "test"}}).ok());
  absl::StatusOr<std::shared_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->header().metadata.at("step"), "12");
  EXPECT_EQ((8 + (*file)->header().header_bytes) % 8, 0u);  // Data section aligned.
  for (const auto& [name, expected] : tensors) {
    absl::StatusOr<torch::Tensor> got = (*file)->Get(name);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(got->sizes(), expected.sizes()) << name;
    EXPECT_TRUE(torch::equal(*got, expected)) << name;
  }
  EXPECT_EQ((*file)->Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(SafetensorsFileTest, AlignedTensorsAliasTheMappingAndWritesStayPrivate) {
  const std::string path = TempPath("alias.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {{"w", torch::ones({256})}}).ok());
  const std::string before = Bytes(path);
  torch::Tensor w;
  {
    auto file = SafetensorsFile::Open(path);
    ASSERT_TRUE(file.ok());
    auto t = (*file)->Get("w");
    ASSERT_TRUE(t.ok());
    w = *t;
    auto again = (*file)->Get("w");
    EXPECT_EQ(again->data_ptr(), w.data_ptr());  // Zero copy: both alias the mapping.
  }
  // The file object is gone; the tensor keeps the mapping alive and may be written.
  w.mul_(2);
  EXPECT_EQ(w[255].item<float>(), 2.0f);
  EXPECT_EQ(Bytes(path), before);
}

TEST(SafetensorsFileTest, UnalignedTensorIsCopied) {
  // A one-byte tensor first puts the F32 tensor at data offset 1.
  const std::string json = R"({"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                           R"("x":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  std::string padded = json + std::string((8 - (8 + json.size()) % 8) % 8, ' ');
  float values[2] = {1.5f, -2.25f};
  std::string data(1, '\x07');
  data.append(reinterpret_cast<const char*>(values), sizeof(values));
  WriteRaw(TempPath("unaligned.safetensors"), padded, data);
  auto file = SafetensorsFile::Open(TempPath("unaligned.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  auto x = (*file)->Get("x");
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x->data_ptr()) % 4, 0u);
  EXPECT_EQ(x->index({1}).item<float>(), -2.25f);
}

TEST(SafetensorsFileTest, MalformedFilesNameTheProblem) {
  struct Case {
    std::string json, data, expected;
  };
  const std::vector<Case> cases = {
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", std::string(4, '\0'),
       "tensor \"a\": shape x F32 is 8 bytes but data_offsets span 4"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(2, '\0'),
       "tensor \"a\": data_offsets [0, 4] outside the 2-byte data section"},
      {R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'),
       "tensor \"a\": unknown dtype \"F33\""},
      {R"({"a":{"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'),
       "tensor \"a\": missing dtype"},
      {R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'),
       "tensor \"a\": shape entries must be integers >= 0"},
      {R"({"a":{"dtype":"F32","shape":[1]}})", std::string(4, '\0'),
       "tensor \"a\": data_offsets must be [begin, end]"},
      {R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
       R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
       std::string(4, '\0'), "tensor \"b\": overlaps \"a\""},
      {R"({"a":[1,2]})", "", "tensor \"a\": entry is not an object"},
      {R"({"__metadata__":{"step":7}})", "", "__metadata__ \"step\" is not a string"},
      {R"({"a":)", "", "header is not valid JSON"},
      {R"([1,2])", "", "header is not a JSON object"},
  };
  for (const Case& c : cases) {
    const std::string path = TempPath("bad.safetensors");
    WriteRaw(path, c.json, c.data);
    auto file = SafetensorsFile::Open(path);
    ASSERT_FALSE(file.ok()) << c.json;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(file.status().message()).find(c.expected), std::string::npos)
        << file.status() << " expected " << c.expected;
  }
  // Length field problems.
  std::ofstream(TempPath("short.safetensors"), std::ios::binary) << "abc";
  EXPECT_NE(std::string(SafetensorsFile::Open(TempPath("short.safetensors")).status().message())
                .find("shorter than the 8-byte length"),
            std::string::npos);
  std::string past(8, '\0');
  past[0] = 100;
  std::ofstream(TempPath("past.safetensors"), std::ios::binary) << past << "{}";
  EXPECT_NE(std::string(SafetensorsFile::Open(TempPath("past.safetensors")).status().message())
                .find("header length 100 runs past the end of the 10-byte file"),
            std::string::npos);
  std::string huge(8, '\xff');
  std::ofstream(TempPath("huge.safetensors"), std::ios::binary) << huge << "{}";
  EXPECT_NE(std::string(SafetensorsFile::Open(TempPath("huge.safetensors")).status().message())
                .find("exceeds 100000000"),
            std::string::npos);
  EXPECT_EQ(SafetensorsFile::Open(TempPath("missing.safetensors")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SafetensorsFileTest, WriterRejectsDuplicateNames) {
  const absl::Status s = WriteSafetensors(TempPath("dup.safetensors"),
                                          {{"a", torch::zeros({1})}, {"a", torch::zeros({1})}});
  EXPECT_EQ(s.message(), "safetensors: duplicate or reserved tensor name \"a\"");
}

}  // namespace
}  // namespace ovseg
