#!/usr/bin/env python3
"""Can a vision tower of the demo's size learn the synthetic world's shapes at the demo's
budget? A supervised 7-way shape probe (docs/results.md, issue 19's CLIP diagnosis).

Takes the images of an ovseg-synth caption corpus whose caption names exactly one thing,
labels each with that thing's shape, holds out 800 and trains, with plain cross-entropy,
one of: the demo CLIP's vision tower (ViT 6 x 128, patch 16, 128 px), the same with a
convolutional stem (four 3x3 stride-2 convolutions instead of the patch projection, as
Xiao et al. 2021), or a small CNN (five 3x3 stride-2 convolutions, batch norm, max pool).
Prints held-out accuracy every 25 steps; chance is 1/7 = 14%.

With --mask-token each thing stays where it lies in its scene and the ViT classifies a
mask token that reads only the class token and the patches the thing covers, as FOV-Seg's
(and MaskCLIP's) classifier does: the view the served classifier has, trained directly.

With --crops the images are instead every thing of the split's panoptic annotation cut out
as the masked crop a mask classifier sees (the square around its box, CLIP's mean colour
outside the thing, as evaluation/region_crops.h): the same shapes, filling the frame (a
train split annotates seen things only, so six shapes: no heart). On
the demo world that is what turned shape from slow to easy (docs/results.md).

  .tools-venv/bin/python scripts/diagnostics/shape_probe.py \\
      --corpus data/clipexp/inside/train --arch vit --images 6000 --steps 150
  .tools-venv/bin/python scripts/diagnostics/shape_probe.py \\
      --corpus data/clipexp/inside/train --crops --arch vit --size 64 --patch 8 --steps 300
  .tools-venv/bin/python scripts/diagnostics/shape_probe.py \\
      --corpus data/clipexp/inside/train --mask-token --arch vit --size 64 --patch 8 --steps 300

Needs torch and pillow (the tools environment, README "Development").
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

SHAPES = ["circle", "square", "triangle", "star", "ring", "cross", "heart"]


MEAN_RGB = (123, 117, 104)  # CLIP's normalisation mean: what a normalised 0 looks like


def things_of(split):
    """(scene RGB array, inside mask, shape) of every thing of a panoptic split, in order."""
    dataset = json.load(open(os.path.join(split, "panoptic.json")))
    names = {c["id"]: c["name"] for c in dataset["categories"] if c["isthing"]}
    for a in dataset["annotations"]:
        things = [s for s in a["segments_info"] if s["category_id"] in names]
        if not things:
            continue
        image = np.asarray(Image.open(os.path.join(split, "images", a["file_name"][:-4] + ".jpg")).convert("RGB"))
        png = np.asarray(Image.open(os.path.join(split, "panoptic", a["file_name"])).convert("RGB")).astype(np.int64)
        ids = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
        for s in things:
            inside = ids == s["id"]
            if inside.any():
                yield image, inside, names[s["category_id"]].split(" ")[-1]


def masked_thing_crops(split, count):
    """(crop, shape) of up to `count` things of a panoptic split, as region_crops.h cuts them."""
    out = []
    for image, inside, shape in things_of(split):
        ys, xs = np.nonzero(inside)
        side = max(ys.max() - ys.min(), xs.max() - xs.min()) + 1
        top, left = (ys.min() + ys.max() + 1) // 2 - side // 2, (xs.min() + xs.max() + 1) // 2 - side // 2
        crop = np.empty((side, side, 3), np.uint8)
        crop[:] = MEAN_RGB
        for y in range(side):
            sy = top + y
            if 0 <= sy < image.shape[0]:
                row = np.arange(left, left + side)
                ok = (row >= 0) & (row < image.shape[1])
                cols = row[ok]
                keep = inside[sy, cols]
                crop[y, np.nonzero(ok)[0][keep]] = image[sy, cols[keep]]
        out.append((Image.fromarray(crop), shape))
        if len(out) >= count:
            break
    return out[:count]


def scenes_with_support(split, count, size, patch):
    """(scene resized to size x size, [grid^2] bool support, shape) of up to `count` things:
    the patches a mask token may read, as MaskAttentionSupport marks them (any pixel)."""
    out, grid = [], size // patch
    for image, inside, shape in things_of(split):
        mask = torch.tensor(inside, dtype=torch.float32)[None, None]
        mask = F.interpolate(mask, size=(size, size), mode="bilinear", align_corners=False)
        support = F.adaptive_max_pool2d(mask, (grid, grid)).flatten() > 0
        if support.any():
            out.append((Image.fromarray(image), support, shape))
        if len(out) >= count:
            break
    return out


def single_thing_shape(caption):
    """The shape of the one thing a caption names, or None (stuff only, or two things)."""
    if " on " not in caption:
        return None
    things = caption.split(" on ")[0]
    if " and a " in things:
        return None
    return things.split(" ")[-1]


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x, blocked=None):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, attn_mask=blocked, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class ViT(nn.Module):
    """Pre-LN ViT with a class token, as the demo CLIP's vision tower, plus a linear head."""

    def __init__(self, conv_stem, width=128, layers=6, patch=16, size=128):
        super().__init__()
        if conv_stem:
            channels, stem = [3, 24, 48, 96, 192], []
            for a, b in zip(channels, channels[1:]):
                stem += [nn.Conv2d(a, b, 3, 2, 1), nn.ReLU()]
            self.embed = nn.Sequential(*stem, nn.Conv2d(192, width, 1))
        else:
            self.embed = nn.Conv2d(3, width, patch, patch, bias=False)
        grid = size // patch
        self.cls = nn.Parameter(torch.randn(width) * width**-0.5)
        self.pos = nn.Parameter(torch.randn(grid * grid + 1, width) * width**-0.5)
        self.ln_pre, self.ln_post = nn.LayerNorm(width), nn.LayerNorm(width)
        self.blocks = nn.ModuleList([Block(width, width // 64) for _ in range(layers)])
        self.head = nn.Linear(width, len(SHAPES))

    def forward(self, x, support=None):
        """Classifies the class token, or, given support [B, grid^2] (bool), a mask token
        appended as FOV-Seg's classifier runs one: it starts as the class token and reads
        only the class token and its support patches; no image token reads it."""
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.size(0), 1, -1), x], 1) + self.pos
        blocked = None
        if support is not None:
            x = torch.cat([x, x[:, :1]], 1)
            n = x.size(1)
            allowed = torch.ones(x.size(0), n, n, dtype=torch.bool)
            allowed[:, :, -1] = False
            allowed[:, -1, 1:-1] = support
            blocked = (~allowed).repeat_interleave(self.blocks[0].attn.num_heads, 0)
        x = self.ln_pre(x)
        for block in self.blocks:
            x = block(x, blocked)
        return self.head(self.ln_post(x[:, -1 if support is not None else 0]))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        channels, layers = [3, 32, 64, 128, 128, 128], []
        for a, b in zip(channels, channels[1:]):
            layers += [nn.Conv2d(a, b, 3, 2, 1), nn.BatchNorm2d(b), nn.ReLU()]
        self.features, self.head = nn.Sequential(*layers), nn.Linear(128, len(SHAPES))

    def forward(self, x):
        return self.head(self.features(x).amax((2, 3)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", required=True, help="an ovseg-synth split: captions.json, images/")
    p.add_argument("--arch", choices=["vit", "vit-conv-stem", "cnn"], default="vit")
    p.add_argument("--images", type=int, default=6000)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=128, help="input side, pixels")
    p.add_argument("--patch", type=int, default=16, help="ViT patch side, pixels")
    p.add_argument("--crops", action="store_true",
                   help="train on the split's things as masked crops (needs panoptic.json)")
    p.add_argument("--mask-token", action="store_true",
                   help="train on the split's things where they lie, read by a mask token "
                        "over the whole scene (FOV-Seg's classifier; ViT only)")
    a = p.parse_args()
    if a.mask_token and a.arch != "vit":
        p.error("--mask-token needs --arch vit (its support is counted in patches)")
    torch.manual_seed(a.seed)
    supports = None
    if a.crops:
        records = masked_thing_crops(a.corpus, a.images)
    elif a.mask_token:
        records = scenes_with_support(a.corpus, a.images, a.size, a.patch)
        supports = torch.stack([support for _, support, _ in records])
        records = [(image, shape) for image, _, shape in records]
    else:
        records = [(r["file_name"], single_thing_shape(r["caption"]))
                   for r in json.load(open(os.path.join(a.corpus, "captions.json")))]
        records = [(Image.open(os.path.join(a.corpus, "images", f)), s)
                   for f, s in records if s is not None][: a.images]
    pixels = np.stack([np.asarray(image.convert("RGB").resize((a.size, a.size), Image.BILINEAR))
                       for image, _ in records])
    x = (torch.tensor(pixels).permute(0, 3, 1, 2).float() / 255.0 - 0.45) / 0.27
    y = torch.tensor([SHAPES.index(s) for _, s in records])
    x_val, y_val, x, y = x[-800:], y[-800:], x[:-800], y[:-800]
    s_val, s_train = (supports[-800:], supports[:-800]) if supports is not None else (None, None)
    model = Cnn() if a.arch == "cnn" else ViT(conv_stem=a.arch == "vit-conv-stem", patch=a.patch, size=a.size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.1)
    start, batch = time.time(), 128
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / 30) * 0.5 * (1 + np.cos(np.pi * step / a.steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        i = torch.randint(0, len(x), (batch,))
        images = x[i]
        flip = torch.rand(batch) < 0.5
        images[flip] = images[flip].flip(3)
        support = None
        if s_train is not None:  # the mask flips with its image
            grid = a.size // a.patch
            support = s_train[i]
            support[flip] = support[flip].view(-1, grid, grid).flip(2).flatten(1)
        loss = F.cross_entropy(model(images, support) if support is not None else model(images), y[i])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % 25 == 0:
            model.eval()
            with torch.no_grad():
                logits = model(x_val, s_val) if s_val is not None else model(x_val)
                accuracy = (logits.argmax(1) == y_val).float().mean().item()
            model.train()
            print(f"{a.arch} step {step + 1}: loss {loss.item():.3f}, held-out shape accuracy "
                  f"{100 * accuracy:.1f}% ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
