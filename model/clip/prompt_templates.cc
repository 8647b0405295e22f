#include "model/clip/prompt_templates.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace ovseg {

absl::StatusOr<std::vector<std::string>> PromptTemplateSet(absl::string_view name) {
  if (name == "none") return std::vector<std::string>{"{}"};
  if (name == "single") return std::vector<std::string>{"a photo of a {}."};
  if (name == "vild") {
    return std::vector<std::string>{
        "a photo of a {}.",
        "This is a photo of a {}",
        "There is a {} in the scene",
        "There is the {} in the scene",
        "a photo of a {} in the scene",
        "a photo of a small {}.",
        "a photo of a medium {}.",
        "a photo of a large {}.",
        "This is a photo of a small {}.",
        "This is a photo of a medium {}.",
        "This is a photo of a large {}.",
        "There is a small {} in the scene.",
        "There is a medium {} in the scene.",
        "There is a large {} in the scene.",
    };
  }
  return absl::InvalidArgumentError(
      absl::StrCat("template set \"", name, "\": expected none, single or vild"));
}

std::string FillTemplate(absl::string_view prompt_template, absl::string_view label) {
  return absl::StrReplaceAll(prompt_template, {{"{}", label}});
}

PromptEnsemble::PromptEnsemble(size_t num_labels, int dim)
    : dim_(dim), sums_(num_labels, std::vector<double>(dim, 0.0)) {}

void PromptEnsemble::Add(size_t label, const float* row) {
  double norm = 0;
  for (int d = 0; d < dim_; ++d) norm += double{row[d]} * row[d];
  if (norm <= 0) return;
  const double inv = 1.0 / std::sqrt(norm);
  std::vector<double>& sum = sums_[label];
  for (int d = 0; d < dim_; ++d) sum[d] += row[d] * inv;
}

std::vector<std::vector<float>> PromptEnsemble::Finish() && {
  std::vector<std::vector<float>> out;
  out.reserve(sums_.size());
  for (const std::vector<double>& sum : sums_) {
    double norm = 0;
    for (double v : sum) norm += v * v;
    const double inv = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
    std::vector<float> row(dim_);
    for (int d = 0; d < dim_; ++d) row[d] = static_cast<float>(sum[d] * inv);
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace ovseg
