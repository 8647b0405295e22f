#!/usr/bin/env python3
"""Which end-to-end errors are naming and which are masks: a breakdown of a panoptic answer
against the synthetic world's ground truth (docs/results.md, "Stray pixels in the crops").

For every ground-truth segment: is it matched by a predicted segment at IoU > 0.5 (the
mask is good), and if so is the class right; for a wrong thing class, which of colour /
pattern / shape differ (the world's thing names are "colour [pattern] shape"). For every
predicted segment matched by none: does it lie mostly on a thing (a piece or duplicate)
or on stuff. Prints counts and the most frequent shape confusions.

  build/tools/ovseg-eval panoptic --server H:P --gt-json G --gt-dir D --image-dir I \\
      --pred-out-dir P --json-out pq.json
  python3 scripts/diagnostics/named_segments.py --gt-json G --gt-dir D --pred-dir P

Needs numpy and pillow (any virtual environment: pip install numpy pillow).
"""
import argparse
import json
from collections import Counter

import numpy as np
from PIL import Image


def segment_ids(path):
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def name_parts(name):
    words = name.split()
    if len(words) == 2:
        return words[0], "plain", words[1]
    return (words[0], words[1], words[2]) if len(words) == 3 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gt-json", required=True)
    parser.add_argument("--gt-dir", required=True)
    parser.add_argument("--pred-dir", required=True, help="ovseg-eval's --pred-out-dir")
    args = parser.parse_args()
    truth = json.load(open(args.gt_json))
    answer = json.load(open(f"{args.pred_dir}/pred.json"))
    categories = {c["id"]: c for c in truth["categories"]}
    predicted = {a["image_id"]: a for a in answer["annotations"]}
    counts, shapes = Counter(), Counter()
    for gt_ann in truth["annotations"]:
        if gt_ann["image_id"] not in predicted:
            continue
        pred_ann = predicted[gt_ann["image_id"]]
        g = segment_ids(f"{args.gt_dir}/{gt_ann['file_name']}")
        p = segment_ids(f"{args.pred_dir}/panoptic/{pred_ann['file_name']}")
        gt_segments = {s["id"]: s for s in gt_ann["segments_info"]}
        pred_segments = {s["id"]: s for s in pred_ann["segments_info"]}
        pairs = Counter(zip(g.ravel().tolist(), p.ravel().tolist()))
        gt_area, pred_area = Counter(g.ravel().tolist()), Counter(p.ravel().tolist())
        match_of_gt, match_of_pred = {}, {}
        for (gi, pi), n in pairs.items():
            if gi in gt_segments and pi in pred_segments:
                if n / (gt_area[gi] + pred_area[pi] - n) > 0.5:
                    match_of_gt[gi], match_of_pred[pi] = pi, gi
        for gi, s in gt_segments.items():
            if s.get("iscrowd"):
                continue
            c = categories[s["category_id"]]
            group = f"{'thing' if c['isthing'] else 'stuff'} {'seen' if c['seen'] else 'unseen'}"
            if gi not in match_of_gt:
                counts[f"{group}: no segment at IoU > 0.5"] += 1
                continue
            said = categories[pred_segments[match_of_gt[gi]]["category_id"]]
            if said["id"] == c["id"]:
                counts[f"{group}: found, named right"] += 1
                continue
            counts[f"{group}: found, named wrong"] += 1
            truth_parts, said_parts = name_parts(c["name"]), name_parts(said["name"])
            if c["isthing"] and said["isthing"] and truth_parts and said_parts:
                words = [w for w, a, b in zip(("colour", "pattern", "shape"), truth_parts,
                                              said_parts) if a != b]
                counts["  wrong " + " + ".join(words)] += 1
                if truth_parts[2] != said_parts[2]:
                    shapes[f"{truth_parts[2]} -> {said_parts[2]}"] += 1
            else:
                counts["  wrong: a thing named as stuff or stuff as a thing"] += 1
        for pi, s in pred_segments.items():
            if pi in match_of_pred:
                continue
            cover = Counter({gi: n for (gi, pj), n in pairs.items() if pj == pi})
            top = cover.most_common(1)[0][0]
            on_thing = top in gt_segments and categories[gt_segments[top]["category_id"]]["isthing"]
            kind = "thing" if categories[s["category_id"]]["isthing"] else "stuff"
            counts[f"unmatched {kind} segment, mostly on {'a thing' if on_thing else 'stuff'}"] += 1
    for key in sorted(counts):
        print(f"{key:55s} {counts[key]}")
    print("shape confusions (truth -> answer):", ", ".join(f"{k} {n}" for k, n in
                                                        shapes.most_common(10)))


if __name__ == "__main__":
    main()
