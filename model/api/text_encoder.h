// LibTorch-free interface of the CLIP text encoder behind the vocabulary cache.
#ifndef OVSEG_MODEL_API_TEXT_ENCODER_H_
#define OVSEG_MODEL_API_TEXT_ENCODER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ovseg {

class TextEncoder {
 public:
  virtual ~TextEncoder() = default;

  // sha256 (hex) of the tensors that define the encoder. The vocabulary cache keys every
  // entry by it, so embeddings from other weights are never served.
  virtual std::string Fingerprint() const = 0;

  virtual int EmbeddingDim() const = 0;

  // Embeds full prompts ("a photo of a cat."): returns prompts.size() x EmbeddingDim()
  // floats, row-major, not necessarily normalised. Thread-safe.
  virtual absl::StatusOr<std::vector<float>> Encode(absl::Span<const std::string> prompts) = 0;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_API_TEXT_ENCODER_H_
