#include "model/train/train_job.h"

// ovseg-train: runs the configured stages in order (clip_pretrain -> generator -> fovseg),
// each handing its weights to the next through the model config, as a user would. The
// launch environment (model/train/launch_env.h) makes it one rank of a
// data-parallel job.
//   ovseg-train --config configs/train_demo.pbtxt
#include <c10/util/Exception.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "model/train/data_parallel.h"
#include "model/train/train_config.h"
#include "model/train/train_stages.h"

namespace ovseg {

TrainLog::TrainLog(const std::string& out_dir, const DataParallel& dp) {
  if (dp.is_chief()) {
    out_.open((std::filesystem::path(out_dir) / "train_log.jsonl").string(), std::ios::app);
  }
}

void TrainLog::Write(const nlohmann::json& line) {
  if (!out_.is_open()) return;
  out_ << line.dump() << "\n";
  out_.flush();  // a crash or a stop loses no logged step
}

std::unique_ptr<Progress> ChiefProgress(const DataParallel& dp, std::string what, int64_t total) {
  if (!dp.is_chief()) return nullptr;
  return std::make_unique<Progress>(std::move(what), total);
}

void ShardLoader(const DataParallel& dp, int64_t micro_batch, LoaderOptions* options) {
  options->shard_count = dp.world_size();
  options->shard_index = dp.rank();
  options->shard_block = micro_batch;
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
  absl::StatusOr<LaunchEnv> launch = ReadLaunchEnv();
  if (!launch.ok()) return std::cerr << "ovseg-train: " << launch.status().message() << "\n", 2;
  const absl::Duration timeout = absl::Seconds(c.distributed_timeout_seconds());
  absl::StatusOr<std::unique_ptr<DataParallel>> dp = DataParallel::Connect(*launch, timeout);
  if (!dp.ok()) return std::cerr << "ovseg-train: " << dp.status().message() << "\n", 1;
  if (launch->distributed()) {
    std::cerr << "ovseg-train: data-parallel rank " << launch->rank << " of " << launch->world_size
              << " (" << launch->master_addr << ":" << launch->master_port << ")\n";
    if (absl::Status s = (*dp)->CheckSharedDirectory(c.out_dir()); !s.ok()) {
      std::cerr << "ovseg-train: " << s.message() << "\n";
      return 1;
    }
  }
  for (const std::string& stage : c.stages()) {
    absl::Status s;
    // The one boundary where LibTorch's exceptions become a status (docs/design.md
    // "Conventions"): a failed stage is reported, never an abort.
    try {
      if (stage == "clip_pretrain") {
        s = RunClipPretrainStage(c, **dp, c.mutable_model());
      } else if (stage == "generator") {
        s = RunGeneratorStage(c, **dp, c.mutable_model());
      } else {
        s = RunFovSegStage(c, **dp);
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
