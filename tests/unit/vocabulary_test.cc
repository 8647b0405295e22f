#include <gtest/gtest.h>

#include <cmath>

#include "server/vocabulary/label_set.h"
#include "server/vocabulary/vocabulary_cache.h"
#include "server/vocabulary/vocabulary_registry.h"
#include "tests/fakes/fake_pipeline.h"

namespace ovseg {
namespace {

google::protobuf::RepeatedPtrField<v1::Label> Labels(std::vector<std::string> names) {
  google::protobuf::RepeatedPtrField<v1::Label> out;
  for (auto& n : names) out.Add()->set_name(n);
  return out;
}

std::vector<ParsedLabel> Parse(std::vector<std::string> names) {
  auto r = ParseLabels(Labels(names), LabelLimits{});
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

TEST(LabelSetTest, SplitsSynonymsAndNormalises) {
  auto labels = Parse({"  Fire   Hydrant ,hydrant,, ", "cat"});
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0].display_name, "Fire   Hydrant");
  EXPECT_EQ(labels[0].synonyms, (std::vector<std::string>{"fire hydrant", "hydrant"}));
  EXPECT_EQ(labels[0].key, "fire hydrant,hydrant");
  EXPECT_TRUE(labels[0].is_thing);
}

TEST(LabelSetTest, LimitsNameFieldLimitAndValue) {
  std::vector<std::string> many(3, "x");
  auto r = ParseLabels(Labels(many), LabelLimits{2, 256});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "labels: 3 labels exceed limits.max_labels = 2");
  r = ParseLabels(Labels({"ok", std::string(300, 'a')}), LabelLimits{});
  EXPECT_EQ(r.status().message(), "labels[1]: 300 bytes exceed limits.max_label_bytes = 256");
  r = ParseLabels(Labels({"ok", " , "}), LabelLimits{});
  EXPECT_NE(r.status().message().find("labels[1]: empty label"), std::string::npos);
  r = ParseLabels(Labels({}), LabelLimits{});
  EXPECT_NE(r.status().message().find("at least one non-empty label"), std::string::npos);
  r = ParseLabels(Labels({"bad \xC3\x28"}), LabelLimits{});
  EXPECT_EQ(r.status().message(), "labels[0]: not valid UTF-8");
}

TEST(LabelSetTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\x88"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // Overlong.
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // Surrogate.
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // Truncated.
}

TEST(LabelSetTest, IdDependsOnLabelsAndThingFlags) {
  auto a = Parse({"cat", "dog"});
  auto b = Parse({"CAT ", "dog"});
  EXPECT_EQ(LabelSetId(a), LabelSetId(b));
  b[1].is_thing = false;
  EXPECT_NE(LabelSetId(a), LabelSetId(b));
}

TEST(VocabularyCacheTest, EmbeddingsAreNormalisedMeansAndCached) {
  auto encoder = std::make_shared<testing::FakeTextEncoder>();
  VocabularyCacheOptions o;
  o.prompt_templates = {"a photo of a {}.", "a {}."};
  VocabularyCache cache(o);
  auto v = cache.Get(Parse({"cat", "fire hydrant, hydrant"}), *encoder);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->num_labels, 2);
  EXPECT_EQ(encoder->prompts_encoded(), 6);  // (1 + 2 synonyms) x 2 templates.
  for (int r = 0; r < 2; ++r) {
    double norm = 0;
    for (int d = 0; d < 8; ++d) norm += std::pow((*v)->data[r * 8 + d], 2);
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
  // Same vocabulary: served whole from the cache. Overlapping one: only the new label.
  auto again = cache.Get(Parse({"cat", "fire hydrant, hydrant"}), *encoder);
  EXPECT_EQ(again->get(), v->get());
  auto other = cache.Get(Parse({"dog", "cat"}), *encoder);
  EXPECT_EQ(encoder->prompts_encoded(), 8);
  EXPECT_EQ(std::vector<float>((*other)->data.begin() + 8, (*other)->data.end()),
            std::vector<float>((*v)->data.begin(), (*v)->data.begin() + 8));
  EXPECT_EQ(cache.Stats().misses, 3u);
}

TEST(VocabularyCacheTest, NewEncoderFingerprintNeverServesStaleEmbeddings) {
  auto a = std::make_shared<testing::FakeTextEncoder>("weights-a");
  auto b = std::make_shared<testing::FakeTextEncoder>("weights-b");
  VocabularyCache cache({});
  auto va = cache.Get(Parse({"cat"}), *a);
  auto vb = cache.Get(Parse({"cat"}), *b);
  EXPECT_EQ(b->prompts_encoded(), 1);
  EXPECT_NE((*va)->data, (*vb)->data);
  EXPECT_NE((*va)->key, (*vb)->key);
  // Both versions' entries live side by side until a swap retires the old encoder's.
  EXPECT_NE(cache.Find(Parse({"cat"}), *a), nullptr);
  cache.RetainOnly(b->Fingerprint());
  EXPECT_EQ(cache.Find(Parse({"cat"}), *a), nullptr);
  EXPECT_NE(cache.Find(Parse({"cat"}), *b), nullptr);
  EXPECT_EQ(a->prompts_encoded(), 1);  // Find never encodes.
}

TEST(VocabularyCacheTest, FindAnswersOnlyFromTheCache) {
  auto encoder = std::make_shared<testing::FakeTextEncoder>();
  VocabularyCache cache({});
  ASSERT_TRUE(cache.Get(Parse({"cat"}), *encoder).ok());
  EXPECT_EQ(cache.Find(Parse({"cat", "dog"}), *encoder), nullptr);  // dog is not cached
  EXPECT_EQ(encoder->prompts_encoded(), 1);
  ASSERT_TRUE(cache.Get(Parse({"dog"}), *encoder).ok());
  std::shared_ptr<const VocabularyEmbeddings> both = cache.Find(Parse({"cat", "dog"}), *encoder);
  ASSERT_NE(both, nullptr);
  EXPECT_EQ(both->num_labels, 2);
  EXPECT_EQ(encoder->prompts_encoded(), 2);
}

TEST(VocabularyCacheTest, LruEvictsWithinByteBudget) {
  auto encoder = std::make_shared<testing::FakeTextEncoder>("e", 64);
  VocabularyCacheOptions o;
  o.max_bytes = 2000;  // Room for a handful of 256-byte rows plus keys and overhead.
  VocabularyCache cache(o);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(cache.Get(Parse({"label" + std::to_string(i)}), *encoder).ok());
  const VocabularyCacheStats s = cache.Stats();
  EXPECT_LE(s.bytes, 2000u);
  EXPECT_GT(s.evictions, 0u);
  // The most recent label is still cached; the first one was evicted.
  const int before = encoder->prompts_encoded();
  ASSERT_TRUE(cache.Get(Parse({"label19"}), *encoder).ok());
  EXPECT_EQ(encoder->prompts_encoded(), before);
  ASSERT_TRUE(cache.Get(Parse({"label0"}), *encoder).ok());
  EXPECT_EQ(encoder->prompts_encoded(), before + 1);
}

TEST(VocabularyCacheTest, LargeRealVocabulary) {
  // ADE-847 from ../shared: the realistic stress case for the cache.
  std::vector<std::string> names;
  for (int i = 0; i < 847; ++i) names.push_back("class number " + std::to_string(i));
  auto encoder = std::make_shared<testing::FakeTextEncoder>("e", 512);
  VocabularyCache cache({});
  auto v = cache.Get(Parse(names), *encoder);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->data.size(), 847u * 512);
}

TEST(VocabularyRegistryTest, RegistersFindsAndEvicts) {
  VocabularyRegistry registry(2);
  auto labels = [&](std::vector<std::string> n) {
    return std::make_shared<const std::vector<ParsedLabel>>(Parse(n));
  };
  const std::string a = registry.Register(labels({"a"}));
  EXPECT_EQ(registry.Register(labels({"a"})), a);
  const std::string b = registry.Register(labels({"b"}));
  registry.Register(labels({"c"}));
  EXPECT_EQ(registry.Find(a), nullptr);  // Least recently used.
  ASSERT_NE(registry.Find(b), nullptr);
  EXPECT_EQ((*registry.Find(b))[0].key, "b");
}

}  // namespace
}  // namespace ovseg
