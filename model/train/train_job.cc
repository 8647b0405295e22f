#include "model/train/train_job.h"

// ovseg-train: runs the configured stages in order (clip_pretrain -> generator -> fovseg),
// each handing its weights to the next through the model config, as a user would.
//   ovseg-train --config configs/train_demo.pbtxt
#include <c10/util/Exception.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "model/train/train_config.h"
#include "model/train/train_stages.h"

namespace ovseg {

TrainLog::TrainLog(const std::string& out_dir)
    : out_((std::filesystem::path(out_dir) / "train_log.jsonl").string(), std::ios::app) {}

void TrainLog::Write(const nlohmann::json& line) {
  out_ << line.dump() << "\n";
  out_.flush();  // a crash or a stop loses no logged step
}

int RunTrainJob(const std::string& config_path) {
  absl::StatusOr<v1::TrainConfig> config = LoadTrainConfig(config_path);
  if (!config.ok()) return std::cerr << "ovseg-train: " << config.status().message() << "\n", 2;
  v1::TrainConfig c = *std::move(config);
  std::error_code error;
  std::filesystem::create_directories(c.out_dir(), error);
  if (error) {
    std::cerr << "ovseg-train: out_dir " << c.out_dir() << ": " << error.message() << "\n";
    return 1;
  }
  for (const std::string& stage : c.stages()) {
    absl::Status s;
    // The one boundary where LibTorch's exceptions become a status (DESIGN.md
    // "Conventions"): a failed stage is reported, never an abort.
    try {
      if (stage == "clip_pretrain") {
        s = RunClipPretrainStage(c, c.mutable_model());
      } else if (stage == "generator") {
        s = RunGeneratorStage(c, c.mutable_model());
      } else {
        s = RunFovSegStage(c);
      }
    } catch (const c10::Error& e) {
      s = absl::InternalError(e.what_without_backtrace());
    } catch (const std::exception& e) {
      s = absl::InternalError(e.what());
    }
    if (!s.ok()) {
      std::cerr << "ovseg-train: " << stage << ": " << s.message() << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace ovseg
