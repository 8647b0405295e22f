#!/usr/bin/env python3
"""Test vectors for evaluation/: small COCO-panoptic and semantic datasets with the scores
that the reference implementations give them.

PQ comes from cocodataset/panopticapi's own pq_compute (pass its checkout with
--panopticapi). Semantic metrics follow detectron2's SemSegEvaluator formulas (confusion
matrix over valid pixels, NaN for classes absent from the ground truth), written here with
numpy. Cases: crowd regions (two of one category: panopticapi keeps the last), VOID,
a prediction mostly on VOID or crowd (not a false positive), an IoU of exactly 0.5 (not a
match), an empty prediction, an empty ground truth, wrong categories, random blocks; for
semantic maps, ignored pixels, a class absent from the ground truth, 8- and 16-bit PNGs.

Usage: make_eval_reference.py --panopticapi PATH --out tests/data/eval
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1},
    {"id": 2, "name": "car", "isthing": 1},
    {"id": 3, "name": "grass", "isthing": 0},
    {"id": 4, "name": "sky", "isthing": 0},
    {"id": 7, "name": "dog", "isthing": 1, "synonyms": ["puppy"]},  # never present
]


def write_png(path, ids):
    rgb = np.zeros(ids.shape + (3,), np.uint8)
    rgb[..., 0] = ids % 256
    rgb[..., 1] = (ids // 256) % 256
    rgb[..., 2] = ids // 65536
    Image.fromarray(rgb).save(path)


def segments_of(ids, info):
    """info: {id: (category, iscrowd)} -> segments_info with area and bbox from the map."""
    out = []
    for sid, (cat, crowd) in info.items():
        ys, xs = np.nonzero(ids == sid)
        area = int(len(xs))
        bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1)] if area else [0, 0, 0, 0]
        out.append({"id": sid, "category_id": cat, "iscrowd": crowd, "area": area, "bbox": bbox})
    return out


def panoptic_cases(rng):
    h, w = 20, 24
    cases = []
    # 1: stuff, things, two crowd regions of one category, VOID, an IoU of exactly 0.5.
    gt = np.zeros((h, w), np.uint32)
    gt[:8] = 40  # sky
    gt[12:] = 41  # grass
    gt[9:12, 2:8] = 42  # person
    gt[8:12, 10:16] = 43  # car
    gt[2:5, 17:22] = 44  # crowd person (first)
    gt[14:18, 18:23] = 45  # crowd person (last: the one panopticapi keeps)
    gt[0, 0:2] = 46  # a two-pixel car
    gt[8, :] = 0  # VOID row
    gt_info = {40: (4, 0), 41: (3, 0), 42: (1, 0), 43: (2, 0), 44: (1, 1), 45: (1, 1), 46: (2, 0)}
    pred = np.zeros((h, w), np.uint32)
    pred[:9] = 1  # sky, overlapping the VOID row
    pred[12:] = 2  # grass
    pred[9:12, 3:9] = 3  # person, shifted
    pred[8:12, 10:13] = 4  # car, half
    pred[8:12, 13:16] = 5  # car, other half (category person: wrong)
    pred[14:18, 18:22] = 6  # person on the last crowd region: ignored
    pred[2:5, 17:21] = 7  # person on the first crowd region: a false positive
    pred[0, 0] = 8  # one pixel of the two-pixel car: IoU exactly 0.5, no match
    pred[8, 20:24] = 9  # a car almost all on VOID: ignored
    pred_info = {1: (4, 0), 2: (3, 0), 3: (1, 0), 4: (2, 0), 5: (1, 0), 6: (1, 0), 7: (1, 0),
                 8: (2, 0), 9: (2, 0)}
    cases.append((gt, gt_info, pred, pred_info))
    # 2: an empty prediction.
    gt2 = np.full((h, w), 50, np.uint32)
    gt2[5:10, 5:10] = 51
    cases.append((gt2, {50: (3, 0), 51: (2, 0)}, np.zeros((h, w), np.uint32), {}))
    # 3: an empty ground truth (all VOID): predictions there are ignored.
    pred3 = np.zeros((h, w), np.uint32)
    pred3[2:6, 2:6] = 11
    cases.append((np.zeros((h, w), np.uint32), {}, pred3, {11: (1, 0)}))
    # 4-6: random blocks and categories.
    for _ in range(3):
        g = np.zeros((h, w), np.uint32)
        p = np.zeros((h, w), np.uint32)
        gi, pi = {}, {}
        for k in range(6):
            y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
            hh, ww = rng.integers(3, 10), rng.integers(3, 12)
            sid = 100 + k
            g[y:y + hh, x:x + ww] = sid
            gi[sid] = (int(rng.choice([1, 2, 3, 4])), int(rng.random() < 0.15))
            dy, dx = rng.integers(-2, 3), rng.integers(-2, 3)
            pid = 200 + k
            p[max(0, y + dy):y + dy + hh, max(0, x + dx):x + dx + ww] = pid
            cat = gi[sid][0] if rng.random() < 0.8 else int(rng.choice([1, 2, 3, 4]))
            pi[pid] = (cat, 0)
        gi = {k: v for k, v in gi.items() if (g == k).any()}
        pi = {k: v for k, v in pi.items() if (p == k).any()}
        cases.append((g, gi, p, pi))
    return cases


def write_panoptic(out, panopticapi):
    rng = np.random.default_rng(7)
    root = os.path.join(out, "panoptic")
    for d in ("gt", "pred"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    gt_json = {"categories": CATEGORIES, "images": [], "annotations": []}
    pred_json = {"categories": CATEGORIES, "annotations": []}
    for i, (g, gi, p, pi) in enumerate(panoptic_cases(rng)):
        name = "%06d.png" % (i + 1)
        write_png(os.path.join(root, "gt", name), g)
        write_png(os.path.join(root, "pred", name), p)
        gt_json["images"].append({"id": i + 1, "file_name": "%06d.jpg" % (i + 1),
                                  "width": int(g.shape[1]), "height": int(g.shape[0])})
        gt_json["annotations"].append({"image_id": i + 1, "file_name": name,
                                       "segments_info": segments_of(g, gi)})
        pred_json["annotations"].append({"image_id": i + 1, "file_name": name,
                                         "segments_info": segments_of(p, pi)})
    with open(os.path.join(root, "gt.json"), "w") as f:
        json.dump(gt_json, f)
    with open(os.path.join(root, "pred.json"), "w") as f:
        json.dump(pred_json, f)
    sys.path.insert(0, panopticapi)
    from panopticapi.evaluation import pq_compute
    results = pq_compute(os.path.join(root, "gt.json"), os.path.join(root, "pred.json"),
                         os.path.join(root, "gt"), os.path.join(root, "pred"))
    expected = {name: {"PQ": 100 * results[name]["pq"], "SQ": 100 * results[name]["sq"],
                       "RQ": 100 * results[name]["rq"], "N": results[name]["n"]}
                for name in ("All", "Things", "Stuff")}
    expected["per_class"] = {str(k): {"PQ": 100 * v["pq"], "SQ": 100 * v["sq"], "RQ": 100 * v["rq"]}
                             for k, v in results["per_class"].items()}
    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


def semantic_reference(preds, gts, num_classes, ignore):
    """detectron2's SemSegEvaluator.evaluate(), restated with numpy."""
    conf = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    for pred, gt in zip(preds, gts):
        gt = gt.astype(np.int64).copy()
        gt[gt == ignore] = num_classes
        conf += np.bincount((num_classes + 1) * pred.astype(np.int64).reshape(-1) + gt.reshape(-1),
                            minlength=conf.size).reshape(conf.shape)
    tp = conf.diagonal()[:-1].astype(float)
    pos_gt = conf[:-1, :-1].sum(0).astype(float)
    pos_pred = conf[:-1, :-1].sum(1).astype(float)
    weights = pos_gt / pos_gt.sum()
    acc = np.full(num_classes, np.nan)
    iou = np.full(num_classes, np.nan)
    acc_valid = pos_gt > 0
    acc[acc_valid] = tp[acc_valid] / pos_gt[acc_valid]
    union = pos_gt + pos_pred - tp
    iou_valid = acc_valid & (union > 0)
    iou[iou_valid] = tp[iou_valid] / union[iou_valid]
    pct = lambda v: None if np.isnan(v) else 100 * float(v)
    return {"mIoU": pct(iou[iou_valid].sum() / iou_valid.sum()),
            "fwIoU": pct((iou[iou_valid] * weights[iou_valid]).sum()),
            "mACC": pct(acc[acc_valid].sum() / acc_valid.sum()),
            "pACC": pct(tp.sum() / pos_gt.sum()),
            "IoU": {str(c): pct(iou[c]) for c in range(num_classes)},
            "ACC": {str(c): pct(acc[c]) for c in range(num_classes)}}


def write_semantic(out, name, num_classes, ignore, dtype, rng):
    root = os.path.join(out, name)
    for d in ("gt", "pred"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    preds, gts = [], []
    present = [c for c in range(num_classes) if c != num_classes - 1]  # last: never in gt
    for i in range(3):
        h, w = 12 + i, 16
        gt = rng.choice(present, size=(h, w)).astype(dtype)
        gt[rng.random((h, w)) < 0.2] = ignore
        pred = np.where(rng.random((h, w)) < 0.6, gt, rng.integers(0, num_classes, (h, w)))
        pred[pred == ignore] = 0
        pred = pred.astype(dtype)
        Image.fromarray(gt).save(os.path.join(root, "gt", "%03d.png" % i))
        Image.fromarray(pred).save(os.path.join(root, "pred", "%03d.png" % i))
        preds.append(pred)
        gts.append(gt)
    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump(semantic_reference(preds, gts, num_classes, ignore), f, indent=1, sort_keys=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--panopticapi", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    write_panoptic(args.out, args.panopticapi)
    rng = np.random.default_rng(11)
    write_semantic(args.out, "semantic8", 5, 255, np.uint8, rng)
    write_semantic(args.out, "semantic16", 300, 65535, np.uint16, rng)


if __name__ == "__main__":
    main()
