// CLIP's image preprocessing on interleaved RGB8 pixels.
#ifndef OVSEG_MODEL_CLIP_CLIP_PREPROCESS_H_
#define OVSEG_MODEL_CLIP_CLIP_PREPROCESS_H_

#include <torch/torch.h>

#include <cstdint>

namespace ovseg {

// [1, 3, H, W] float: pixels / 255, normalised with CLIP's mean and std. No resizing
// (the serving path: the server already brought the image to its bucket).
torch::Tensor ClipNormalize(const uint8_t* rgb, int width, int height);

// CLIP's preprocess: an image already `size` x `size` is only normalised; other sizes are
// resized so the shorter side is `size` (bicubic with antialiasing, rounded to 8-bit like
// PIL) and centre-cropped to `size` x `size`. PIL's filter is matched closely, not
// bit-exactly.
torch::Tensor ClipPreprocess(const uint8_t* rgb, int width, int height, int size);

}  // namespace ovseg

#endif  // OVSEG_MODEL_CLIP_CLIP_PREPROCESS_H_
