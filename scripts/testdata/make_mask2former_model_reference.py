#!/usr/bin/env python3
"""Reference vectors for the whole Mask2Former port, computed with HuggingFace
transformers' Mask2FormerForUniversalSegmentation, for tests/unit/mask2former_model_test.cc.

  .tools-venv/bin/python scripts/testdata/make_mask2former_model_reference.py

Writes tests/data/mask2former_tiny/{resnet,swin}_weights.safetensors, a tiny random
model's complete state dict under HF's key names (criterion.empty_weight,
num_batches_tracked and relative_position_index included, as in the public files), and
{resnet,swin}_vectors.safetensors: the input ("input.pixel_values", 2 images), the backbone's maps ("output.backbone_N"), the mask
features, and the class and mask logits of every prediction stage ("output.class_logits_N",
"output.mask_logits_N", the last N being the final prediction). 4 attention heads.

- resnet: HF ResNetBackbone, bottleneck blocks (R50-like), widths 32/64/96/128, depths
  1/1/2/1, on a 64x96 input.
- swin: HF SwinBackbone, embed 8, depths 2/2/2/2, heads 1/2/2/4, window 4, on a 128x160
  input (stages 3 and 4 are 8x10 and 4x5: padded to whole windows).
Both: pixel decoder width 64 with 2 encoder layers, decoder width 64 with 4 layers, 10
queries, 5 classes.
"""
import os

import torch
from safetensors.torch import save_file
from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, ResNetConfig, SwinConfig

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "mask2former_tiny")
STAGES = ["stage1", "stage2", "stage3", "stage4"]


def config_for(backbone):
    return Mask2FormerConfig(backbone_config=backbone, feature_size=64, mask_feature_size=64,
                             hidden_dim=64, num_queries=10, decoder_layers=5,
                             num_attention_heads=4, dim_feedforward=128, encoder_layers=2,
                             encoder_feedforward_dim=128, num_labels=5, dropout=0.0,
                             use_auxiliary_loss=True)


def randomise(model):
    with torch.no_grad():  # Non-trivial values everywhere: norms, biases, BN statistics.
        for name, p in model.named_parameters():
            if p.dim() > 1:  # unit-variance outputs, so logits stay O(1-10)
                p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5)
            else:
                p.copy_(torch.randn_like(p) * 0.2 + 1.0)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)


def write(name, backbone, height, width):
    torch.manual_seed(0)
    model = Mask2FormerForUniversalSegmentation(config_for(backbone)).eval()
    randomise(model)
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    tensors = {}
    pixels = torch.randn(2, 3, height, width)
    with torch.no_grad():
        out = model(pixel_values=pixels, output_hidden_states=True, output_auxiliary_logits=True)
    tensors["input.pixel_values"] = pixels
    for i, f in enumerate(out.encoder_hidden_states):
        tensors[f"output.backbone_{i}"] = f.contiguous()
    tensors["output.mask_features"] = out.pixel_decoder_last_hidden_state.contiguous()
    stages = list(out.auxiliary_logits) + [{"class_queries_logits": out.class_queries_logits,
                                            "masks_queries_logits": out.masks_queries_logits}]
    for i, s in enumerate(stages):
        tensors[f"output.class_logits_{i}"] = s["class_queries_logits"].contiguous()
        tensors[f"output.mask_logits_{i}"] = s["masks_queries_logits"].contiguous()
    # The training loss on random ground truth (3 and 2 segments), seeded: the C++ port
    # draws the same points from the same stream.
    mask_labels = [(torch.rand(3, height, width) > 0.6).float(), (torch.rand(2, height, width) > 0.3).float()]
    class_labels = [torch.tensor([1, 4, 1]), torch.tensor([0, 2])]
    for i, (m, c) in enumerate(zip(mask_labels, class_labels)):
        tensors[f"target.masks_{i}"] = m
        tensors[f"target.labels_{i}"] = c
    torch.manual_seed(7)
    losses = model.criterion(masks_queries_logits=out.masks_queries_logits,
                             class_queries_logits=out.class_queries_logits, mask_labels=mask_labels,
                             class_labels=class_labels,
                             auxiliary_predictions=list(out.auxiliary_logits))
    for k, v in losses.items():
        tensors[f"loss.{k}"] = v.detach().reshape(1)
    os.makedirs(OUT, exist_ok=True)
    save_file(weights, os.path.join(OUT, f"{name}_weights.safetensors"))
    save_file(tensors, os.path.join(OUT, f"{name}_vectors.safetensors"))
    print(name, len(stages), "stages", out.masks_queries_logits.shape,
          "max |mask logit|", float(out.masks_queries_logits.abs().max()),
          "weights", len(weights))


def main():
    write("resnet", ResNetConfig(embedding_size=16, hidden_sizes=[32, 64, 96, 128], depths=[1, 1, 2, 1],
                                 layer_type="bottleneck", out_features=STAGES), 64, 96)
    write("swin", SwinConfig(embed_dim=8, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=4,
                             out_features=STAGES), 128, 160)


if __name__ == "__main__":
    main()
