#include "model/clip/clip_text_encoder.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "model/clip/clip_weights.h"

namespace ovseg {

ClipTextEncoder::ClipTextEncoder(ClipModel model, const ClipTokenizer& tokenizer, int max_batch)
    : model_(std::move(model)),
      tokenizer_(tokenizer),
      max_batch_(std::max(1, max_batch)),
      fingerprint_(ClipTextFingerprint(model_)) {}

absl::StatusOr<std::vector<float>> ClipTextEncoder::Encode(absl::Span<const std::string> prompts) {
  const ClipTextConfig& config = model_->config().text;
  std::vector<std::vector<int>> tokens;
  tokens.reserve(prompts.size());
  for (const std::string& p : prompts) {
    tokens.push_back(tokenizer_.Tokenize(p, static_cast<int>(config.context_length)));
    for (int id : tokens.back()) {
      if (id >= config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("text encoder: token id ", id, " of \"", p,
                                                       "\" exceeds the model's vocabulary of ",
                                                       config.vocab_size));
      }
    }
  }
  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return tokens[a].size() < tokens[b].size(); });
  const int64_t dim = model_->config().embed_dim;
  std::vector<float> out(prompts.size() * dim);
  const torch::Device device = model_->text_projection.device();
  std::lock_guard<std::mutex> lock(mu_);
  torch::InferenceMode inference;
  for (size_t begin = 0; begin < order.size(); begin += max_batch_) {
    const size_t count = std::min<size_t>(max_batch_, order.size() - begin);
    const size_t length = tokens[order[begin + count - 1]].size();
    torch::Tensor batch =
        torch::zeros({static_cast<int64_t>(count), static_cast<int64_t>(length)}, torch::kLong);
    auto accessor = batch.accessor<int64_t, 2>();
    for (size_t i = 0; i < count; ++i) {
      const std::vector<int>& t = tokens[order[begin + i]];
      for (size_t j = 0; j < t.size(); ++j) accessor[i][j] = t[j];
    }
    torch::Tensor features;
    try {
      features = model_->EncodeText(batch.to(device)).to(torch::kCPU, torch::kFloat32).contiguous();
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("text encoder: ", e.what_without_backtrace()));
    }
    const float* src = features.data_ptr<float>();
    for (size_t i = 0; i < count; ++i) {
      std::copy(src + i * dim, src + (i + 1) * dim, out.begin() + order[begin + i] * dim);
    }
  }
  return out;
}

}  // namespace ovseg
