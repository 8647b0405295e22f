#!/usr/bin/env python3
"""Why the mask generator misses things: for every ground-truth thing that no proposal
finds at IoU >= 0.5, is it merged with another thing into one proposal, covered by a
proposal that spills onto stuff, or not covered at all (docs/results.md, "Merged
instances").

Asks a running ovseg-server for its class-agnostic proposals (task PROPOSALS, every class
of the split as the vocabulary) on the first --images validation images. A missed thing's
"covering" proposal is the one holding most of its pixels; it is "merged" when that
proposal also holds over 30% of another thing. Small things are COCO's (< 32^2 pixels).

  build/server/ovseg-server --config configs/server.pbtxt &
  python3 scripts/diagnostics/merged_instances.py --server 127.0.0.1:50051 --images 200

Needs the Python client (scripts/test_python_client.sh installs it into .client-venv).
"""
import argparse
import json
from collections import Counter

import numpy as np
from PIL import Image

import ovseg


def segment_ids(path):
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
    return (rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]).ravel()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--val", default="data/demo/synth/val",
                        help="a COCO panoptic split: panoptic.json, images/, panoptic/")
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    truth = json.load(open(f"{args.val}/panoptic.json"))
    categories = {c["id"]: c for c in truth["categories"]}
    vocabulary = [c["name"] for c in truth["categories"]]
    files = {i["id"]: i["file_name"] for i in truth["images"]}
    things, kinds = Counter(), Counter()
    with ovseg.Client(args.server) as client:
        for ann in truth["annotations"][:args.images]:
            answer = client.segment(f"{args.val}/images/{files[ann['image_id']]}", vocabulary,
                                    task="proposals")
            proposals = np.asarray(answer.masks).astype(bool).reshape(len(answer.masks), -1)
            ids = segment_ids(f"{args.val}/panoptic/{ann['file_name']}")
            segments = [s for s in ann["segments_info"] if categories[s["category_id"]]["isthing"]]
            masks = {s["id"]: ids == s["id"] for s in segments}
            for s in segments:
                truth_mask = masks[s["id"]]
                area = truth_mask.sum()
                size = "small" if area < 32 * 32 else "medium+"
                things[size] += 1
                inter = (proposals & truth_mask).sum(1)
                iou = inter / np.maximum((proposals | truth_mask).sum(1), 1)
                if len(iou) and iou.max() >= 0.5:
                    continue
                if not len(inter) or inter.max() < 0.5 * area:
                    kinds[(size, "not covered")] += 1
                    continue
                cover = proposals[inter.argmax()]
                merged = any((cover & masks[o["id"]]).sum() > 0.3 * masks[o["id"]].sum()
                             for o in segments if o["id"] != s["id"])
                kinds[(size, "merged with another thing" if merged else "covered, spills")] += 1
    for size in ("small", "medium+"):
        missed = {k: v for (s, k), v in kinds.items() if s == size}
        print(f"{size}: {things[size]} things, {sum(missed.values())} missed: " +
              ", ".join(f"{k} {v}" for k, v in sorted(missed.items())))


if __name__ == "__main__":
    main()
