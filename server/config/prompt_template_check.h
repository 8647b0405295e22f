// Whether a checkpoint is served with the prompt templates it was trained with.
#ifndef OVSEG_SERVER_CONFIG_PROMPT_TEMPLATE_CHECK_H_
#define OVSEG_SERVER_CONFIG_PROMPT_TEMPLATE_CHECK_H_

#include <string>
#include <vector>

#include "ovseg/v1/config.pb.h"

namespace ovseg {

// The trained classifier (TeVA, the adapter, FGAseg's text side) learned on text
// embeddings made with `trained` templates; served with other templates its scores shift,
// silently. Returns "" when the lists match or `trained` is empty (a checkpoint from before
// the templates were recorded), else one sentence naming both lists, for a warning. Not an
// error: a different prompt ensemble is a legitimate serving choice.
std::string PromptTemplateMismatch(const std::vector<std::string>& trained,
                                   const v1::VocabularyConfig& serving);

}  // namespace ovseg

#endif  // OVSEG_SERVER_CONFIG_PROMPT_TEMPLATE_CHECK_H_
