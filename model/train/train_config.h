// ovseg-train's configuration (proto/ovseg/v1/train.proto): parsed from text proto, every
// unset field given its documented default, and checked as a whole before any stage runs,
// so a bad value fails at once with the field's name rather than an hour into training.
#ifndef OVSEG_MODEL_TRAIN_TRAIN_CONFIG_H_
#define OVSEG_MODEL_TRAIN_TRAIN_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "ovseg/v1/train.pb.h"

namespace ovseg {

// The stages, in the only order they can run.
inline constexpr const char* kTrainStages[] = {"clip_pretrain", "generator", "fovseg"};

absl::StatusOr<v1::TrainConfig> ParseTrainConfig(const std::string& text,
                                                 const std::string& source_name);
absl::StatusOr<v1::TrainConfig> LoadTrainConfig(const std::string& path);

bool HasStage(const v1::TrainConfig& config, const std::string& stage);

// TrainConfig.autocast "auto": "bf16" on CUDA or where the CPU has bf16 instructions
// (AVX512-BF16 or AMX), else "fp32", since emulated bf16 is several times slower than fp32
// (docs/results.md). Any other value is returned as it is. ParseTrainConfig applies it,
// so the stages and the run's saved config see the resolved value.
std::string ResolveAutocast(const std::string& autocast, const std::string& device,
                            bool cpu_has_bf16);
// Whether /proc/cpuinfo lists avx512_bf16 or amx_bf16 (false where it cannot be read).
bool CpuHasBf16Instructions();

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_TRAIN_CONFIG_H_
