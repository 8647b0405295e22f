// The learning-rate schedules every training stage uses: linear warm-up from lr/warmup to
// lr over `warmup` steps, then a decay to 0 at `total` steps, either detectron2's poly
// (`(1 - progress)^power`, Mask2Former and FOV-Seg) or a half cosine (CLIP), and the
// setter that applies a rate to an optimiser.
#ifndef OVSEG_MODEL_TRAIN_LR_SCHEDULE_H_
#define OVSEG_MODEL_TRAIN_LR_SCHEDULE_H_

#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace ovseg {

struct WarmupDecaySchedule {
  enum class Decay { kPoly, kCosine };
  double lr = 1e-4;
  int64_t warmup = 0, total = 1;
  Decay decay = Decay::kPoly;
  double poly_power = 0.9;

  // The learning rate of the optimiser step numbered `step` (0-based).
  double At(int64_t step) const {
    const int64_t w = std::max<int64_t>(0, warmup);
    if (step < w) return lr * static_cast<double>(step + 1) / static_cast<double>(w);
    const double span = static_cast<double>(std::max<int64_t>(1, total - w));
    const double done = std::clamp(static_cast<double>(step - w) / span, 0.0, 1.0);
    if (decay == Decay::kCosine) return lr * 0.5 * (1.0 + std::cos(M_PI * done));
    return lr * std::pow(1.0 - done, poly_power);
  }
};

// Sets every parameter group of `optimizer` to `lr` (stages whose groups share one rate).
inline void SetAdamWLearningRate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
}

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_LR_SCHEDULE_H_
