#include "server/config/config_loader.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/clip/prompt_templates.h"

namespace ovseg {
namespace {

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string source) : source_(std::move(source)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty())
      first_ = absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("config: ", field, " ", problem));
}

}  // namespace

bool IsLoopbackAddress(const std::string& host_port) {
  return absl::StartsWith(host_port, "127.") || absl::StartsWith(host_port, "localhost:") ||
         absl::StartsWith(host_port, "[::1]:");
}

absl::StatusOr<v1::ServerConfig> ParseServerConfig(const std::string& text,
                                                   const std::string& source_name) {
  v1::ServerConfig config;
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors(source_name);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &config)) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", errors.first()));
  }
  ApplyConfigDefaults(&config);
  if (absl::Status s = ValidateServerConfig(config); !s.ok()) return s;
  return config;
}

absl::StatusOr<v1::ServerConfig> LoadServerConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("config: cannot open ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseServerConfig(text.str(), path);
}

void ApplyConfigDefaults(v1::ServerConfig* c) {
  if (c->listen_address().empty()) c->set_listen_address("127.0.0.1:50051");
  if (c->metrics_address().empty()) c->set_metrics_address("127.0.0.1:9464");
  if (c->shutdown_grace_seconds() == 0) c->set_shutdown_grace_seconds(30);
  if (c->http_threads() == 0) c->set_http_threads(16);
  if (c->cpu_scheduling() == v1::CPU_SCHEDULING_UNSPECIFIED) {
    c->set_cpu_scheduling(v1::CPU_SCHEDULING_BATCH);
  }
  v1::LimitsConfig* l = c->mutable_limits();
  if (l->max_receive_message_bytes() == 0) l->set_max_receive_message_bytes(64 << 20);
  if (l->max_image_pixels() == 0) l->set_max_image_pixels(uint64_t{4096} * 4096);
  if (l->max_image_side() == 0) l->set_max_image_side(16384);
  if (l->max_labels() == 0) l->set_max_labels(2048);
  if (l->max_label_bytes() == 0) l->set_max_label_bytes(256);
  if (l->max_segments() == 0) l->set_max_segments(1000);
  if (l->max_regions() == 0) l->set_max_regions(256);
  if (l->max_request_memory_bytes() == 0) l->set_max_request_memory_bytes(uint64_t{1} << 30);
  if (l->max_inflight_memory_bytes() == 0) l->set_max_inflight_memory_bytes(uint64_t{4} << 30);
  v1::BatchingConfig* b = c->mutable_batching();
  if (b->max_batch_size() == 0) b->set_max_batch_size(8);
  if (!b->has_max_queue_delay_us()) b->set_max_queue_delay_us(2000);
  if (b->max_queue_size() == 0) b->set_max_queue_size(256);
  if (b->num_batch_threads() == 0) b->set_num_batch_threads(1);
  if (b->buckets().empty()) {
    v1::ShapeBucket* bucket = b->add_buckets();
    bucket->set_width(640);
    bucket->set_height(640);
  }
  if (!c->has_log_requests()) c->set_log_requests(true);
  if (!c->model().has_warm_up()) c->mutable_model()->set_warm_up(true);
  v1::VocabularyConfig* v = c->mutable_vocabulary();
  if (v->template_set().empty()) v->set_template_set("single");
  if (v->max_registered_vocabularies() == 0) v->set_max_registered_vocabularies(10000);
  if (v->max_pending_registrations() == 0) v->set_max_pending_registrations(64);
  if (v->encoder_threads() == 0) v->set_encoder_threads(1);
  if (v->prompt_templates().empty()) {
    // An unknown set name leaves the list empty; validation then names the field.
    absl::StatusOr<std::vector<std::string>> set = PromptTemplateSet(v->template_set());
    if (set.ok()) {
      for (const std::string& t : *set) v->add_prompt_templates(t);
    }
  }
  if (v->cache_max_bytes() == 0) v->set_cache_max_bytes(256 << 20);
  if (v->text_encoder_batch_size() == 0) v->set_text_encoder_batch_size(256);
  v1::PostprocessConfig* p = c->mutable_postprocess();
  if (!p->has_score_threshold()) p->set_score_threshold(0.3f);
  if (p->max_segments() == 0) p->set_max_segments(100);
  // MaskCLIP's (and so FOV-Seg's) 0.5 / 0.5, not Mask2Former's 0.8 / 0.8: on the demo
  // model it scored PQ 1.96 against 1.74 (docs/results.md, "Serving thresholds").
  if (p->object_mask_threshold() == 0) p->set_object_mask_threshold(0.5f);
  if (p->overlap_threshold() == 0) p->set_overlap_threshold(0.5f);
  if (p->max_threshold_override() == 0) p->set_max_threshold_override(1.0f);
  v1::AdminConfig* a = c->mutable_admin();
  if (a->checkpoint_dir().empty()) a->set_checkpoint_dir("checkpoints");
  if (a->max_checkpoint_bytes() == 0) a->set_max_checkpoint_bytes(uint64_t{1} << 30);
  if (a->keep_last() == 0) a->set_keep_last(5);
  if (a->watch_interval_seconds() <= 0) a->set_watch_interval_seconds(5.0);
  v1::ModelConfig* m = c->mutable_model();
  if (m->device().empty()) m->set_device("cpu");
  if (m->precision().empty()) m->set_precision("fp32");
  if (m->teva_cache_max_bytes() == 0) m->set_teva_cache_max_bytes(256 << 20);
  if (m->mask_generator_heads() == 0) m->set_mask_generator_heads(8);
  if (!m->has_fusion_seen_weight()) m->set_fusion_seen_weight(0.4);
  if (!m->has_fusion_unseen_weight()) m->set_fusion_unseen_weight(0.8);
}

absl::Status ValidateServerConfig(const v1::ServerConfig& c) {
  if (c.limits().max_receive_message_bytes() > (uint64_t{1} << 31) - 1) {
    return Invalid("limits.max_receive_message_bytes", "must be < 2 GiB (gRPC's limit)");
  }
  if (c.limits().max_inflight_memory_bytes() < c.limits().max_request_memory_bytes()) {
    return Invalid("limits.max_inflight_memory_bytes",
                   "must be at least limits.max_request_memory_bytes");
  }
  if (!(c.batching().max_queue_seconds() >= 0)) {
    return Invalid("batching.max_queue_seconds", "must be >= 0 (0: no bound)");
  }
  if (c.batching().max_batch_size() > 1024) {
    return Invalid("batching.max_batch_size", "must be <= 1024");
  }
  for (int i = 0; i < c.batching().buckets_size(); ++i) {
    const v1::ShapeBucket& b = c.batching().buckets(i);
    if (b.width() == 0 || b.height() == 0 || b.width() % 32 || b.height() % 32 ||
        b.width() > 4096 || b.height() > 4096) {
      return Invalid(absl::StrCat("batching.buckets[", i, "]"),
                     absl::StrCat(b.width(), "x", b.height(),
                                  ": sides must be positive multiples of 32, at most 4096"));
    }
  }
  if (c.vocabulary().prompt_templates().empty()) {
    const absl::Status set = PromptTemplateSet(c.vocabulary().template_set()).status();
    return Invalid("vocabulary.template_set", set.ok() ? "no templates" : set.message());
  }
  for (const std::string& t : c.vocabulary().prompt_templates()) {
    if (!absl::StrContains(t, "{}")) {
      return Invalid("vocabulary.prompt_templates", absl::StrCat("\"", t, "\" has no {}"));
    }
  }
  const v1::PostprocessConfig& p = c.postprocess();
  if (p.min_threshold_override() < 0 || p.max_threshold_override() > 1 ||
      p.min_threshold_override() > p.max_threshold_override()) {
    return Invalid("postprocess.min/max_threshold_override", "must satisfy 0 <= min <= max <= 1");
  }
  if (p.max_segments() > c.limits().max_segments()) {
    return Invalid("postprocess.max_segments", "exceeds limits.max_segments");
  }
  for (const auto& [field, value] :
       {std::pair<const char*, double>{"model.fusion_seen_weight", c.model().fusion_seen_weight()},
        {"model.fusion_unseen_weight", c.model().fusion_unseen_weight()},
        {"model.crop_ensemble_weight", c.model().crop_ensemble_weight()},
        {"model.objectness_weight", c.model().objectness_weight()},
        {"model.crop_component_fraction", c.model().crop_component_fraction()},
        {"model.proposal_split_fraction", c.model().proposal_split_fraction()},
        {"model.guided_filter_eps", c.model().guided_filter_eps()}}) {
    if (!(value >= 0 && value <= 1)) {
      return Invalid(field, absl::StrCat(value, " is outside [0, 1]"));
    }
  }
  if (const std::string& mode = c.model().default_head_mode();
      !mode.empty() && mode != "MASK" && mode != "FUSED") {
    return Invalid("model.default_head_mode",
                   absl::StrCat("\"", mode.substr(0, 32), "\": expected MASK or FUSED"));
  }
  if (c.model().guided_filter_radius() > 256) {
    return Invalid("model.guided_filter_radius",
                   absl::StrCat(c.model().guided_filter_radius(), " exceeds 256"));
  }
  if (c.model().max_proposals() > 1000) {
    return Invalid("model.max_proposals", absl::StrCat(c.model().max_proposals(), " exceeds 1000"));
  }
  if (c.vocabulary().encoder_threads() > 64) {
    return Invalid("vocabulary.encoder_threads",
                   absl::StrCat(c.vocabulary().encoder_threads(), " exceeds 64"));
  }
  const v1::TlsConfig& tls = c.tls();
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    return Invalid("tls", "cert_file and key_file must be set together");
  }
  if (tls.require_client_cert() && tls.client_ca_file().empty()) {
    return Invalid("tls.require_client_cert", "needs tls.client_ca_file");
  }
  if (tls.cert_file().empty() && !c.allow_insecure_non_loopback() &&
      !IsLoopbackAddress(c.listen_address())) {
    return Invalid("listen_address", absl::StrCat("\"", c.listen_address(),
                                                  "\" is not loopback: configure tls or set "
                                                  "allow_insecure_non_loopback"));
  }
  if (!c.http_address().empty() && c.http_address() != "none") {
    if (c.http_address().rfind(':') == std::string::npos) {
      return Invalid("http_address",
                     absl::StrCat("\"", c.http_address(), "\": host:port expected"));
    }
    if (tls.cert_file().empty() && !c.allow_insecure_non_loopback() &&
        !IsLoopbackAddress(c.http_address())) {
      return Invalid("http_address", absl::StrCat("\"", c.http_address(),
                                                  "\" is not loopback: configure tls or set "
                                                  "allow_insecure_non_loopback"));
    }
  }
  if (c.http_threads() > 1024) {
    return Invalid("http_threads", absl::StrCat(c.http_threads(), " exceeds 1024"));
  }
  if (c.max_connection_age_seconds() > 7 * 24 * 3600) {
    return Invalid("max_connection_age_seconds",
                   absl::StrCat(c.max_connection_age_seconds(), " exceeds a week (604800)"));
  }
  if (c.max_connection_age_grace_seconds() > 3600) {
    return Invalid("max_connection_age_grace_seconds",
                   absl::StrCat(c.max_connection_age_grace_seconds(), " exceeds 3600"));
  }
  if (c.shutdown_grace_seconds() < 0) {
    return Invalid("shutdown_grace_seconds", "must be >= 0");
  }
  if (!v1::CpuScheduling_IsValid(c.cpu_scheduling())) {
    return Invalid("cpu_scheduling", absl::StrCat(c.cpu_scheduling(), " is not a CpuScheduling"));
  }
  return absl::OkStatus();
}

}  // namespace ovseg
