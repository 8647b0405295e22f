#!/usr/bin/env python3
"""Reference vectors for the FGAseg head port, computed with the official FGAseg modules
(LiBingyu01/FGA-seg: P2Tformer, Projector, Local_align, Decoder_fast), for
tests/unit/fgaseg_head_test.cc. Needs a checkout of that repository and einops + timm in
the tools environment:

  .tools-venv/bin/pip install einops && .tools-venv/bin/pip install --no-deps timm
  .tools-venv/bin/python scripts/testdata/make_fgaseg_reference.py PATH/TO/FGA-seg

Writes tests/data/fgaseg_tiny/{weights,vectors}.safetensors: a tiny random head under the
official module names (DCDT, proj, transformer, upsample1/2; the Decoder's Local_align
rebuilt at the tiny width, since the official Decoder fixes it to 512/768), and for two
cases ("few": 5 classes, padded to pad_len 8; "many": 12 classes, cut to 8) the inputs
and the training-mode outputs: logits, the three auxiliary maps and the T2P map.
Sizes: embed 32, CLIP width 24, hidden 32, guidance projections 16, decoder (16, 16),
decoder guidance (24, 12) -> (8, 4), 2 layers, 4 heads, pooling 2, window 4, 8x8 grid.
"""
import importlib.util
import os
import sys
import types

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "fgaseg_tiny")


def load_official(root):
    base = os.path.join(root, "FGA_seg", "modeling", "transformer")
    pkg = types.ModuleType("fga")
    pkg.__path__ = [base]
    sys.modules["fga"] = pkg
    modules = {}
    for name in ["position_encoding", "Local_align", "P2Tformer", "projector", "Decoder_fast"]:
        spec = importlib.util.spec_from_file_location("fga." + name, os.path.join(base, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["fga." + name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


class Head(torch.nn.Module):
    """The official pieces under the names FGASeg gives them."""

    def __init__(self, m, embed, width):
        super().__init__()
        self.DCDT = m["P2Tformer"].P2Tformer(d_model=embed, nhead=8, N=1)
        self.proj = m["projector"].Projector(word_dim=embed, vision_dim=embed // 2)
        self.transformer = m["Decoder_fast"].Decoder_fast(
            text_guidance_dim=embed, text_guidance_proj_dim=16, appearance_guidance_dim=embed,
            appearance_guidance_proj_dim=16, decoder_dims=(16, 16), decoder_guidance_dims=(24, 12),
            decoder_guidance_proj_dims=(8, 4), num_layers=2, nheads=4, hidden_dim=32,
            pooling_size=(2, 2), feature_resolution=(8, 8), window_size=4, attention_type="linear",
            prompt_channel=1, pad_len=8, clip_pretrained="ViT-B/16", fusion_mod="cat", kernel_size=3)
        self.transformer.Local_align = m["Local_align"].Local_align(word_dim=embed, vision_dim=embed,
                                                                    kernel_size=3)
        self.upsample1 = torch.nn.ConvTranspose2d(width, 24, kernel_size=2, stride=2)
        self.upsample2 = torch.nn.ConvTranspose2d(width, 12, kernel_size=4, stride=4)

    def forward(self, dense, layer_a, layer_b, classes):
        text = self.DCDT(dense, classes.unsqueeze(1))  # official: [T, 1, C] shared by the batch
        align = self.proj(dense, text)
        text_feats = text.unsqueeze(0).transpose(2, 0)
        vis = [dense, self.upsample1(layer_a), self.upsample2(layer_b)]
        logits, aux0, aux1, aux2 = self.transformer(dense, text_feats, vis)
        return logits, aux0, aux1, aux2, align


def main():
    m = load_official(sys.argv[1])
    torch.manual_seed(0)
    head = Head(m, embed=32, width=24).train()
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5 if p.dim() > 1 else torch.randn_like(p) * 0.2 + 0.5)
    weights = {k: v.contiguous() for k, v in head.state_dict().items()}
    vectors = {}
    for case, classes in [("few", 5), ("many", 12)]:
        dense = torch.randn(2, 32, 8, 8)
        layer_a, layer_b = torch.randn(2, 24, 8, 8), torch.randn(2, 24, 8, 8)
        text = torch.nn.functional.normalize(torch.randn(classes, 32), dim=-1)
        with torch.no_grad():
            logits, aux0, aux1, aux2, align = head(dense, layer_a, layer_b, text)
        for name, t in [("dense", dense), ("guidance_0", layer_a), ("guidance_1", layer_b),
                        ("classes", text), ("logits", logits), ("aux0", aux0), ("aux1", aux1),
                        ("aux2", aux2), ("alignment", align)]:
            vectors[f"{case}.{name}"] = t.contiguous()
        print(case, logits.shape, float(logits.abs().max()))
    os.makedirs(OUT, exist_ok=True)
    save_file(weights, os.path.join(OUT, "weights.safetensors"))
    save_file(vectors, os.path.join(OUT, "vectors.safetensors"))
    print(len(weights), "weights")


if __name__ == "__main__":
    main()
