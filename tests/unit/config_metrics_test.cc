#include <gtest/gtest.h>

#include <string>

#include "model/safetensors/safetensors_header.h"
#include "server/common/process_memory.h"
#include "server/config/config_loader.h"
#include "server/config/prompt_template_check.h"
#include "server/metrics/server_metrics.h"

namespace ovseg {
namespace {

TEST(ConfigTest, DefaultsAndShippedConfigParse) {
  auto c = ParseServerConfig("", "empty");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits().max_receive_message_bytes(), 64u << 20);
  EXPECT_EQ(c->limits().max_image_pixels(), 16777216u);
  EXPECT_EQ(c->limits().max_labels(), 2048u);
  EXPECT_EQ(c->limits().max_label_bytes(), 256u);
  EXPECT_EQ(c->batching().max_queue_delay_us(), 2000u);
  EXPECT_EQ(c->batching().buckets_size(), 1);
  EXPECT_DOUBLE_EQ(c->model().fusion_seen_weight(), 0.4);
  EXPECT_DOUBLE_EQ(c->model().fusion_unseen_weight(), 0.8);
  EXPECT_FALSE(c->model().has_dense_top_k());  // the checkpoint's
  EXPECT_EQ(c->cpu_scheduling(), v1::CPU_SCHEDULING_BATCH);
  EXPECT_EQ(ParseServerConfig("cpu_scheduling: CPU_SCHEDULING_NORMAL", "n")->cpu_scheduling(),
            v1::CPU_SCHEDULING_NORMAL);
  auto zero_delay = ParseServerConfig("batching { max_queue_delay_us: 0 }", "z");
  EXPECT_EQ(zero_delay->batching().max_queue_delay_us(), 0u);
  const char* dir = std::getenv("OVSEG_SOURCE_DIR");
  for (const char* file : {"/configs/server.pbtxt", "/configs/server_vit_b16.pbtxt"}) {
    auto shipped = LoadServerConfigFile(std::string(dir ? dir : ".") + file);
    EXPECT_TRUE(shipped.ok()) << file << ": " << shipped.status();
  }
}

TEST(ConfigTest, PromptTemplateMismatchNamesBothLists) {
  auto single = ParseServerConfig("", "default");
  auto vild = ParseServerConfig("vocabulary { template_set: \"vild\" }", "vild");
  ASSERT_TRUE(single.ok() && vild.ok());
  const std::vector<std::string> trained = {"a photo of a {}."};
  EXPECT_EQ(PromptTemplateMismatch(trained, single->vocabulary()), "");
  EXPECT_EQ(PromptTemplateMismatch({}, vild->vocabulary()), "") << "not recorded: no claim";
  const std::string m = PromptTemplateMismatch(trained, vild->vocabulary());
  EXPECT_NE(m.find("[\"a photo of a {}.\"]"), std::string::npos) << m;
  EXPECT_NE(m.find("14 templates starting \"a photo of a {}.\""), std::string::npos) << m;
  EXPECT_NE(PromptTemplateMismatch({"{}"}, single->vocabulary()), "");
}

TEST(ConfigTest, TemplateSets) {
  auto single = ParseServerConfig("", "default");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->vocabulary().template_set(), "single");
  ASSERT_EQ(single->vocabulary().prompt_templates_size(), 1);
  EXPECT_EQ(single->vocabulary().prompt_templates(0), "a photo of a {}.");
  auto vild = ParseServerConfig("vocabulary { template_set: \"vild\" }", "vild");
  ASSERT_TRUE(vild.ok());
  EXPECT_EQ(vild->vocabulary().prompt_templates_size(), 14);
  EXPECT_EQ(vild->vocabulary().prompt_templates(13), "There is a large {} in the scene.");
  // Switches on unless configured off; sizes the code used to hard-code.
  auto defaults = ParseServerConfig("", "defaults");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->log_requests());
  EXPECT_TRUE(defaults->model().warm_up());
  EXPECT_EQ(defaults->vocabulary().max_registered_vocabularies(), 10000u);
  EXPECT_EQ(defaults->vocabulary().max_pending_registrations(), 64u);
  EXPECT_EQ(defaults->vocabulary().encoder_threads(), 1u);
  auto quiet = ParseServerConfig("log_requests: false model { warm_up: false }", "quiet");
  ASSERT_TRUE(quiet.ok());
  EXPECT_FALSE(quiet->log_requests());
  EXPECT_FALSE(quiet->model().warm_up());
  auto none = ParseServerConfig("vocabulary { template_set: \"none\" }", "none");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->vocabulary().prompt_templates(0), "{}");
  // Explicit templates win over the set.
  auto own = ParseServerConfig(
      "vocabulary { template_set: \"vild\" prompt_templates: \"art of {}\" }", "own");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->vocabulary().prompt_templates_size(), 1);
  auto bad = ParseServerConfig("vocabulary { template_set: \"many\" }", "bad");
  EXPECT_NE(
      std::string(bad.status().message())
          .find("vocabulary.template_set template set \"many\": expected none, single or vild"),
      std::string::npos)
      << bad.status().ToString();
}

TEST(ConfigTest, ErrorsNameTheFieldOrLine) {
  auto c = ParseServerConfig("limits {\n  max_labelz: 3\n}", "bad.pbtxt");
  EXPECT_NE(c.status().message().find("bad.pbtxt:2:"), std::string::npos) << c.status();
  c = ParseServerConfig("batching { buckets { width: 100 height: 64 } }", "x");
  EXPECT_NE(c.status().message().find("batching.buckets[0]"), std::string::npos);
  c = ParseServerConfig("model { fusion_unseen_weight: 1.5 }", "x");
  EXPECT_NE(c.status().message().find("model.fusion_unseen_weight"), std::string::npos)
      << c.status();
  EXPECT_TRUE(ParseServerConfig("model { fusion_seen_weight: 0 }", "x").ok());
  c = ParseServerConfig("model { default_head_mode: \"DENSE\" }", "x");
  EXPECT_NE(c.status().message().find("model.default_head_mode"), std::string::npos) << c.status();
  EXPECT_TRUE(ParseServerConfig("model { default_head_mode: \"MASK\" }", "x").ok());
  c = ParseServerConfig("model { crop_ensemble_weight: -0.1 }", "x");
  EXPECT_NE(c.status().message().find("model.crop_ensemble_weight"), std::string::npos)
      << c.status();
  c = ParseServerConfig("model { objectness_weight: 1.5 }", "x");
  EXPECT_NE(c.status().message().find("model.objectness_weight"), std::string::npos) << c.status();
  c = ParseServerConfig("model { crop_component_fraction: 2 }", "x");
  EXPECT_NE(c.status().message().find("model.crop_component_fraction"), std::string::npos)
      << c.status();
  c = ParseServerConfig("model { proposal_split_fraction: -0.5 }", "x");
  EXPECT_NE(c.status().message().find("model.proposal_split_fraction"), std::string::npos)
      << c.status();
  EXPECT_TRUE(ParseServerConfig("model { proposal_split_fraction: 0.2 }", "x").ok());
  c = ParseServerConfig("model { guided_filter_eps: 2 }", "x");
  EXPECT_NE(c.status().message().find("model.guided_filter_eps"), std::string::npos) << c.status();
  c = ParseServerConfig("model { guided_filter_radius: 300 }", "x");
  EXPECT_NE(c.status().message().find("model.guided_filter_radius"), std::string::npos)
      << c.status();
  EXPECT_TRUE(ParseServerConfig("model { guided_filter_radius: 28 }", "x").ok());
  c = ParseServerConfig("max_connection_age_seconds: 10000000", "x");
  EXPECT_NE(c.status().message().find("max_connection_age_seconds"), std::string::npos);
  EXPECT_TRUE(ParseServerConfig("max_connection_age_seconds: 300", "x").ok());
  c = ParseServerConfig("model { max_proposals: 5000 }", "x");
  EXPECT_NE(c.status().message().find("model.max_proposals"), std::string::npos) << c.status();
  c = ParseServerConfig("listen_address: \"0.0.0.0:50051\"", "x");
  EXPECT_NE(c.status().message().find("not loopback"), std::string::npos);
  c = ParseServerConfig("tls { require_client_cert: true cert_file: \"a\" key_file: \"b\" }", "x");
  EXPECT_NE(c.status().message().find("client_ca_file"), std::string::npos);
  EXPECT_TRUE(
      ParseServerConfig("listen_address: \"0.0.0.0:1\" allow_insecure_non_loopback: true", "x")
          .ok());
  c = ParseServerConfig("cpu_scheduling: CPU_SCHEDULING_FIFO", "x");
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("CPU_SCHEDULING_FIFO"), std::string::npos) << c.status();
}

TEST(MetricsTest, ExpositionHasCountersHistogramsAndCallbacks) {
  ServerMetrics m;
  m.RecordRequest(Transport::kGrpc, "Segment", absl::StatusCode::kOk, 0.004);
  m.RecordRequest(Transport::kGrpc, "Segment", absl::StatusCode::kInvalidArgument, 0.001);
  m.RecordRequest(Transport::kHttp, "Segment", absl::StatusCode::kOk, 0.004);
  m.ObserveStage(Stage::kDecode, 0.002);
  m.ObserveBatchSize(3);
  m.SetModelVersion("v1", "");
  m.SetModelVersion("v2", "b.safetensors");
  m.AddGaugeCallback("ovseg_queue_depth", "q", [] { return 7.0; });
  const std::string text = m.Serialize();
  EXPECT_NE(text.find("ovseg_requests_total{code=\"OK\",method=\"Segment\",transport=\"grpc\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ovseg_requests_total{code=\"INVALID_ARGUMENT\",method=\"Segment\",transport="
                      "\"grpc\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE ovseg_request_seconds histogram"), std::string::npos);
  EXPECT_NE(
      text.find(
          "ovseg_request_seconds_bucket{method=\"Segment\",transport=\"grpc\",le=\"0.005\"} 2"),
      std::string::npos);
  EXPECT_NE(text.find("ovseg_requests_total{code=\"OK\",method=\"Segment\",transport=\"http\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("ovseg_stage_seconds_count{stage=\"decode\"} 1"), std::string::npos);
  EXPECT_NE(text.find("ovseg_batch_size_sum 3"), std::string::npos);
  EXPECT_NE(text.find("ovseg_model_info{checkpoint=\"b.safetensors\",version=\"v2\"} 1"),
            std::string::npos);
  EXPECT_EQ(text.find("version=\"v1\""), std::string::npos);
  EXPECT_NE(text.find("ovseg_queue_depth 7"), std::string::npos);
  EXPECT_NE(text.find("ovseg_process_resident_memory_bytes"), std::string::npos);
  EXPECT_GT(ProcessResidentBytes(), 1e6);
}

std::string Safetensors(const std::string& json, size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  return out + json + std::string(data_bytes, '\0');
}

TEST(SafetensorsHeaderTest, ParsesValidAndNamesProblems) {
  const std::string ok = Safetensors(
      R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]},"__metadata__":{"step":"7"}})",
      22);
  auto h = ParseSafetensorsHeader(ok, ok.size());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->tensors.size(), 2u);
  EXPECT_EQ(h->metadata.at("step"), "7");
  auto bad = [](const std::string& json, size_t data) {
    const std::string f = Safetensors(json, data);
    return std::string(ParseSafetensorsHeader(f, f.size()).status().message());
  };
  EXPECT_NE(bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4)
                .find("tensor \"a\": shape x F32 is 8 bytes but data_offsets span 4"),
            std::string::npos);
  EXPECT_NE(
      bad(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1).find("unknown dtype"),
      std::string::npos);
  EXPECT_NE(bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 2).find("outside"),
            std::string::npos);
  EXPECT_NE(bad(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                4)
                .find("overlaps"),
            std::string::npos);
  EXPECT_NE(bad("{not json", 0).find("not valid JSON"), std::string::npos);
  std::string huge(8, '\xff');
  EXPECT_NE(std::string(ParseSafetensorsHeader(huge, 8).status().message()).find("exceeds"),
            std::string::npos);
}

}  // namespace
}  // namespace ovseg
