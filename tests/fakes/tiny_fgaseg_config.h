// The tiny FGAseg head configuration of the committed reference vectors
// (scripts/testdata/make_fgaseg_reference.py): embed 32, CLIP width 24, hidden 32,
// guidance projections 16, decoder (16, 16), decoder guidance (24, 12) -> (8, 4),
// 2 layers, 4 heads, pooling 2, window 4, pad_len 8.
#ifndef OVSEG_TESTS_FAKES_TINY_FGASEG_CONFIG_H_
#define OVSEG_TESTS_FAKES_TINY_FGASEG_CONFIG_H_

#include "model/fgaseg/fgaseg_config.h"

namespace ovseg::testing {

inline FgaSegConfig TinyFgaSegConfig() {
  FgaSegConfig c;
  c.embed_dim = 32;
  c.clip_width = 24;
  c.hidden_dim = 32;
  c.text_guidance_proj_dim = 16;
  c.appearance_guidance_proj_dim = 16;
  c.decoder_dims = {16, 16};
  c.decoder_guidance_dims = {24, 12};
  c.decoder_guidance_proj_dims = {8, 4};
  c.layers = 2;
  c.heads = 4;
  c.pooling = 2;
  c.window = 4;
  c.pad_len = 8;
  return c;
}

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_TINY_FGASEG_CONFIG_H_
