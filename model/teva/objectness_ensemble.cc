#include "model/teva/objectness_ensemble.h"

namespace ovseg {

torch::Tensor WithObjectnessLogProbabilities(const torch::Tensor& class_logits,
                                             const torch::Tensor& objectness, double weight) {
  const int64_t t = class_logits.size(1) - 1;
  TORCH_CHECK(t >= 0 && objectness.dim() == 1 && objectness.size(0) == class_logits.size(0),
              "objectness ensemble: ", objectness.sizes(), " scores for logits ",
              class_logits.sizes());
  const torch::Tensor log_all = torch::log_softmax(class_logits.to(torch::kFloat32), -1);
  const torch::Tensor log_not_void = torch::logsumexp(log_all.narrow(1, 0, t), 1, true);
  // Objectness of exactly 0 or 1 stays finite in log space.
  constexpr double kTiny = 1e-7;
  const torch::Tensor log_object =
      objectness.to(log_all.device(), torch::kFloat32).clamp(kTiny, 1 - kTiny).log().unsqueeze(1);
  const torch::Tensor blended = ((1 - weight) * log_not_void + weight * log_object).clamp_max(0);
  // log(1 - exp(x)) for x <= 0, accurate at both ends.
  const torch::Tensor log_void = torch::where(blended > -0.693, torch::log(-torch::expm1(blended)),
                                              torch::log1p(-torch::exp(blended)));
  return torch::cat({log_all.narrow(1, 0, t) - log_not_void + blended, log_void}, 1);
}

}  // namespace ovseg
