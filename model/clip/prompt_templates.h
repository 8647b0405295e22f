// Prompt templates and prompt ensembles for CLIP class embeddings (LibTorch-free: the
// server's config and vocabulary cache use them too).
#ifndef OVSEG_MODEL_CLIP_PROMPT_TEMPLATES_H_
#define OVSEG_MODEL_CLIP_PROMPT_TEMPLATES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ovseg {

// "none" -> {"{}"}; "single" -> {"a photo of a {}."}; "vild" -> the 14 ViLD templates
// (Gu et al., as used by FC-CLIP and FOV-Seg's evaluation).
absl::StatusOr<std::vector<std::string>> PromptTemplateSet(absl::string_view name);

// Every "{}" in `prompt_template` replaced by `label`.
std::string FillTemplate(absl::string_view prompt_template, absl::string_view label);

// A CLIP prompt ensemble: each prompt embedding is L2-normalised, the normalised rows of a
// label are averaged and the mean is L2-normalised again. Rows arrive in any order and in
// batches, so large vocabularies never hold all prompt embeddings at once.
class PromptEnsemble {
 public:
  PromptEnsemble(size_t num_labels, int dim);
  void Add(size_t label, const float* row);
  // One normalised row per label (a label without rows stays zero).
  std::vector<std::vector<float>> Finish() &&;

 private:
  int dim_;
  std::vector<std::vector<double>> sums_;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_CLIP_PROMPT_TEMPLATES_H_
