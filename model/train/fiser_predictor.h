// FiSeR, FOV-Seg's auxiliary training task (paper Eq. 1-6; docs/design.md "FiSeR"): one of an
// image's K ground-truth labels is replaced by a learnable [M] token; a small
// transformer, the Predictor, reads the class tokens with [M] followed by the image's
// patch features from the TeVA encoder; the hidden state at [M] goes through a linear
// layer to z_pred, whose cosine similarities with the K labels' text embeddings (times a
// learnable scale, as CLIP's) are the logits of a cross-entropy against the masked label.
// Variable K is padded per batch and masked, in attention and in the loss. Training only:
// it is never part of a serving checkpoint.
#ifndef OVSEG_MODEL_TRAIN_FISER_PREDICTOR_H_
#define OVSEG_MODEL_TRAIN_FISER_PREDICTOR_H_

#include <torch/torch.h>

namespace ovseg {

struct FiserConfig {
  int64_t embed_dim = 512;    // E: class embeddings and z_pred
  int64_t image_width = 768;  // C: the encoder's patch features
  int64_t width = 256;        // the Predictor's own width
  int64_t layers = 2;
  int64_t heads = 8;
};

struct FiserInputs {
  torch::Tensor class_embeddings;  // [B, K, E], the image's labels (L2-normalised)
  torch::Tensor class_valid;       // [B, K] bool; padding false
  torch::Tensor masked;            // [B] long: which label [M] replaces (a valid one)
  torch::Tensor patches;           // [B, n, C]: image tokens from the encoder
};

struct FiserOutputs {
  torch::Tensor logits;  // [B, K]; padding -inf
  torch::Tensor loss;    // scalar: mean cross-entropy against `masked`
};

class FiserPredictorImpl : public torch::nn::Module {
 public:
  explicit FiserPredictorImpl(const FiserConfig& config);
  FiserOutputs forward(const FiserInputs& inputs);
  const FiserConfig& config() const { return config_; }

  torch::Tensor mask_token, text_type, image_type, logit_scale;
  torch::nn::Linear text_in{nullptr}, image_in{nullptr}, out{nullptr};
  torch::nn::TransformerEncoder encoder{nullptr};

 private:
  FiserConfig config_;
};
TORCH_MODULE(FiserPredictor);

// One valid label per image, uniformly, from `generator`-free torch RNG: [B] long.
torch::Tensor SampleMaskedLabels(const torch::Tensor& class_valid);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_FISER_PREDICTOR_H_
