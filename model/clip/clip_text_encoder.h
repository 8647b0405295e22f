// The server's TextEncoder on CLIP's text tower: tokenize, batch by length, encode on the
// model's device and precision, return unnormalised projected features.
#ifndef OVSEG_MODEL_CLIP_CLIP_TEXT_ENCODER_H_
#define OVSEG_MODEL_CLIP_CLIP_TEXT_ENCODER_H_

#include <torch/torch.h>

#include <mutex>
#include <string>
#include <vector>

#include "model/api/text_encoder.h"
#include "model/clip/clip_model.h"
#include "model/clip/clip_tokenizer.h"

namespace ovseg {

class ClipTextEncoder : public TextEncoder {
 public:
  // `model` is used as it is (device, dtype); the fingerprint is taken now, so weights
  // must not change afterwards. `max_batch` bounds one forward pass.
  ClipTextEncoder(ClipModel model, const ClipTokenizer& tokenizer, int max_batch = 256);

  std::string Fingerprint() const override { return fingerprint_; }
  int EmbeddingDim() const override { return static_cast<int>(model_->config().embed_dim); }
  // Prompts are sorted by token count so that each batch is cut to its own longest prompt
  // (causal attention makes the padding irrelevant); results return in input order.
  absl::StatusOr<std::vector<float>> Encode(absl::Span<const std::string> prompts) override;

 private:
  ClipModel model_;
  const ClipTokenizer& tokenizer_;
  const int max_batch_;
  const std::string fingerprint_;
  std::mutex mu_;  // One forward at a time: LibTorch already uses every intra-op thread.
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_CLIP_CLIP_TEXT_ENCODER_H_
