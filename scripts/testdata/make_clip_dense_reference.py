#!/usr/bin/env python3
"""Reference vectors for CLIP's dense features (model/fgaseg/clip_dense_features.h),
computed with the official FGAseg CLIP (FGA_seg/third_party/model_vpt.py,
VisualTransformer.forward(dense=True)) on the tiny OpenAI-layout CLIP of
tests/data/clip_tiny, for tests/unit/fgaseg_head_test.cc.

  .tools-venv/bin/python scripts/testdata/make_clip_dense_reference.py PATH/TO/FGA-seg

Writes tests/data/fgaseg_tiny/clip_dense.safetensors: "images" (2 x 3 x 32 x 32),
"dense" (the projected tokens but the class token, [2, 32, 4, 4]) and "guidance_0" (block
0's output tokens as a map, [2, 64, 4, 4]).
"""
import importlib.util
import os
import sys

import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def main():
    spec = importlib.util.spec_from_file_location(
        "model_vpt", os.path.join(sys.argv[1], "FGA_seg", "third_party", "model_vpt.py"))
    vpt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vpt)
    state = load_file(os.path.join(ROOT, "tests", "data", "clip_tiny", "openai.safetensors"))
    visual = vpt.VisualTransformer(input_resolution=32, patch_size=8, width=64, layers=2, heads=1,
                                   output_dim=32, prompt_depth=0, prompt_length=0).eval()
    weights = {}
    for k, v in state.items():
        if not k.startswith("visual."):
            continue
        k = k[len("visual."):]
        if k.endswith("attn.in_proj_weight"):  # the official attention keeps q, k, v apart
            for name, part in zip(["q", "k", "v"], v.chunk(3, 0)):
                weights[k.replace("in_proj_weight", f"{name}_proj_weight")] = part
        else:
            weights[k] = v
    visual.load_state_dict(weights)
    captured = []
    visual.transformer.resblocks[0].register_forward_hook(lambda m, i, o: captured.append(o))
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        dense = visual(images, dense=True)  # [B, 17, 32]
    to_map = lambda t: t[:, 1:, :].transpose(1, 2).reshape(2, -1, 4, 4).contiguous()
    out = {"images": images, "dense": to_map(dense), "guidance_0": to_map(captured[0].permute(1, 0, 2))}
    save_file(out, os.path.join(ROOT, "tests", "data", "fgaseg_tiny", "clip_dense.safetensors"))
    print({k: tuple(v.shape) for k, v in out.items()})


if __name__ == "__main__":
    main()
