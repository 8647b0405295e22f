// ovseg-train --config configs/train_*.pbtxt: the training job (model/train/train_job.h).
// The job lives in the ovseg_train library so that its LibTorch code compiles in that
// library's unity file; this file stays LibTorch-free.
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "model/train/train_job.h"

ABSL_FLAG(std::string, config, "", "TrainConfig text proto (configs/train_*.pbtxt)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return ovseg::RunTrainJob(absl::GetFlag(FLAGS_config));
}
