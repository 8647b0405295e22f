// The mask classifier's configuration (mask_classifier.h), apart from the classifier so
// that LibTorch-free code (checkpoint metadata, model/serving/checkpoint_metadata.h) can
// read and write it.
#ifndef OVSEG_MODEL_TEVA_MASK_CLASSIFIER_CONFIG_H_
#define OVSEG_MODEL_TEVA_MASK_CLASSIFIER_CONFIG_H_

#include <cstdint>

namespace ovseg {

struct MaskClassifierConfig {
  bool use_teva = true;       // false: the plain MaskCLIP-style classifier (the baseline).
  bool teva_residual = true;  // M^ = M + CrossAttn (default) or the literal M^ = CrossAttn.
  bool use_adapter = true;
  int64_t adapter_hidden = 16;
  double temperature = 100.0;  // MaskCLIP's 1 / 0.01.
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_TEVA_MASK_CLASSIFIER_CONFIG_H_
