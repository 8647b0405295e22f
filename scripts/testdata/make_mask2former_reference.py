#!/usr/bin/env python3
"""Reference vectors for the Mask2Former port, computed with HuggingFace transformers'
Mask2Former (the implementation whose checkpoints ovseg loads), for
tests/unit/mask2former_test.cc.

  .tools-venv/bin/python scripts/testdata/make_mask2former_reference.py

Writes tests/data/mask2former_tiny/pixel_decoder.safetensors: a tiny random pixel decoder
(feature 64, mask features 64, 8 heads, 2 deformable encoder layers, feed-forward 128,
backbone channels 16/32/48/64 at strides 4/8/16/32) under HF's parameter names
("model.pixel_level_module.decoder." + name), its inputs ("input.level_N", a 2-image batch
of a 64x96 input) and outputs ("output.mask_features", "output.multi_scale_N" from 1/32 to
1/8), plus a standalone multi-scale deformable attention case ("msda.*").
"""
import os

import torch
from safetensors.torch import save_file
from transformers import Mask2FormerConfig
from transformers.models.mask2former import modeling_mask2former as m2f

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "mask2former_tiny")
PREFIX = "model.pixel_level_module.decoder."


def main():
    torch.manual_seed(0)
    config = Mask2FormerConfig(feature_size=64, mask_feature_size=64, num_attention_heads=8,
                               encoder_layers=2, encoder_feedforward_dim=128, dropout=0.0)
    channels = [16, 32, 48, 64]
    decoder = m2f.Mask2FormerPixelDecoder(config, feature_channels=channels).eval()
    with torch.no_grad():  # Random, non-trivial values everywhere (norms included).
        for p in decoder.parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.2) + (1.0 if p.dim() == 1 else 0))
    tensors = {PREFIX + k: v.contiguous() for k, v in decoder.state_dict().items()}
    features = [torch.randn(2, c, 64 // s, 96 // s) for c, s in zip(channels, [4, 8, 16, 32])]
    with torch.no_grad():
        out = decoder(features)
    for i, f in enumerate(features):
        tensors[f"input.level_{i}"] = f
    tensors["output.mask_features"] = out.mask_features.contiguous()
    for i, f in enumerate(out.multi_scale_features):
        tensors[f"output.multi_scale_{i}"] = f.contiguous()

    # Standalone deformable attention: 2 levels, locations partly outside [0, 1].
    shapes = [(5, 7), (3, 4)]
    value = torch.randn(2, sum(h * w for h, w in shapes), 4, 8)
    locations = torch.rand(2, 6, 4, 2, 3, 2) * 1.4 - 0.2
    weights = torch.softmax(torch.randn(2, 6, 4, 6), -1).view(2, 6, 4, 2, 3)
    tensors["msda.value"] = value
    tensors["msda.locations"] = locations
    tensors["msda.weights"] = weights
    tensors["msda.output"] = m2f.multi_scale_deformable_attention(value, shapes, locations, weights)
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()},
              os.path.join(OUT, "pixel_decoder.safetensors"))
    print(sorted(k for k in tensors if not k.startswith(PREFIX)))
    print(sorted(k[len(PREFIX):] for k in tensors if k.startswith(PREFIX)))


if __name__ == "__main__":
    main()
