// ovseg-train's stages (proto/ovseg/v1/train.proto, TrainConfig.stages). Each writes its
// results into out_dir and appends every scalar it measures to out_dir/train_log.jsonl
// (one JSON object per line, with "stage" and "step"). The first two hand their weights to
// the next stage through `model`, exactly as a user would point a config at them.
#ifndef OVSEG_MODEL_TRAIN_TRAIN_STAGES_H_
#define OVSEG_MODEL_TRAIN_TRAIN_STAGES_H_

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "ovseg/v1/config.pb.h"
#include "ovseg/v1/train.pb.h"

namespace ovseg {

// out_dir/clip.safetensors (OpenAI key names, GELU; metadata says so); sets
// model->clip_weights and clip_quick_gelu.
absl::Status RunClipPretrainStage(const v1::TrainConfig& config, v1::ModelConfig* model);

// out_dir/mask2former.safetensors (HuggingFace key names); sets
// model->mask_generator_weights and mask_generator_heads.
absl::Status RunGeneratorStage(const v1::TrainConfig& config, v1::ModelConfig* model);

// Checkpoints fovseg-step<N>.safetensors, optimiser states, latest.json, validation and
// submission (train_job's documentation).
absl::Status RunFovSegStage(const v1::TrainConfig& config);

// Appends one line to out_dir/train_log.jsonl.
class TrainLog {
 public:
  explicit TrainLog(const std::string& out_dir);
  void Write(const nlohmann::json& line);

 private:
  std::ofstream out_;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_TRAIN_STAGES_H_
