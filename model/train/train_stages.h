// ovseg-train's stages (proto/ovseg/v1/train.proto, TrainConfig.stages). Each writes its
// results into out_dir and appends every scalar it measures to out_dir/train_log.jsonl
// (one JSON object per line, with "stage" and "step"). The first two hand their weights to
// the next stage through `model`, exactly as a user would point a config at them.
// Under data parallelism (model/train/data_parallel.h) every rank runs every stage on its
// share of the data; only the chief logs, draws progress, evaluates and writes, and the
// others wait for its files at a barrier before the next stage reads them.
#ifndef OVSEG_MODEL_TRAIN_TRAIN_STAGES_H_
#define OVSEG_MODEL_TRAIN_TRAIN_STAGES_H_

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "common/progress.h"
#include "datasets/data_loader.h"
#include "model/train/data_parallel.h"
#include "ovseg/v1/config.pb.h"
#include "ovseg/v1/train.pb.h"

namespace ovseg {

// out_dir/clip.safetensors (OpenAI key names, GELU; metadata says so); sets
// model->clip_weights and clip_quick_gelu.
absl::Status RunClipPretrainStage(const v1::TrainConfig& config, DataParallel& dp,
                                  v1::ModelConfig* model);

// out_dir/mask2former.safetensors (HuggingFace key names); sets
// model->mask_generator_weights and mask_generator_heads.
absl::Status RunGeneratorStage(const v1::TrainConfig& config, DataParallel& dp,
                               v1::ModelConfig* model);

// Checkpoints fovseg-step<N>.safetensors, optimiser states, latest.json, validation and
// submission (train_job's documentation).
absl::Status RunFovSegStage(const v1::TrainConfig& config, DataParallel& dp);

// Appends one line to out_dir/train_log.jsonl; on the chief only.
class TrainLog {
 public:
  TrainLog(const std::string& out_dir, const DataParallel& dp);
  void Write(const nlohmann::json& line);

 private:
  std::ofstream out_;
};

// The stage's progress line, on the chief only (nullptr elsewhere: W ranks on one
// terminal would draw W bars).
std::unique_ptr<Progress> ChiefProgress(const DataParallel& dp, std::string what, int64_t total);

// Deals the loader's micro-batches of `micro_batch` samples round-robin over the ranks.
void ShardLoader(const DataParallel& dp, int64_t micro_batch, LoaderOptions* options);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_TRAIN_STAGES_H_
