#include "server/config/prompt_template_check.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ovseg {
namespace {

// Long sets (ViLD's 14) are shown by size and first entry: enough to tell them apart.
std::string Describe(const std::vector<std::string>& templates) {
  if (templates.size() <= 2) {
    return absl::StrCat("[\"", absl::StrJoin(templates, "\", \""), "\"]");
  }
  return absl::StrCat(templates.size(), " templates starting \"", templates.front(), "\"");
}

}  // namespace

std::string PromptTemplateMismatch(const std::vector<std::string>& trained,
                                   const v1::VocabularyConfig& serving) {
  const std::vector<std::string> served(serving.prompt_templates().begin(),
                                        serving.prompt_templates().end());
  if (trained.empty() || trained == served) return "";
  return absl::StrCat("the checkpoint was trained with prompt templates ", Describe(trained),
                      " but vocabulary.prompt_templates is ", Describe(served),
                      "; scores may differ from the training evaluation");
}

}  // namespace ovseg
