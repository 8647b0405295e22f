// The training job behind `ovseg-train` (tools/ovseg_train.cc), LibTorch-free to
// include: the configured stages (clip_pretrain, generator, fovseg) from a TrainConfig text
// proto (proto/ovseg/v1/train.proto).
// Returns the process exit code: 0 done, 1 a failure (printed), 2 a bad config (printed).
#ifndef OVSEG_MODEL_TRAIN_TRAIN_JOB_H_
#define OVSEG_MODEL_TRAIN_TRAIN_JOB_H_

#include <string>

namespace ovseg {

int RunTrainJob(const std::string& config_path);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_TRAIN_JOB_H_
