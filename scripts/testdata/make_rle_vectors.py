"""Computes COCO RLE test vectors with the reference pycocotools (tools environment only;
never a product dependency). Output: tests/data/coco_rle_vectors.json, committed.

Each vector holds a mask as rows of '0'/'1' and pycocotools' encode() result."""
import json
import sys

import numpy as np
from pycocotools import mask as mask_utils


def masks():
    rng = np.random.default_rng(1234)
    yield "empty_3x4", np.zeros((3, 4), np.uint8)
    yield "full_5x2", np.ones((5, 2), np.uint8)
    m = np.zeros((7, 9), np.uint8); m[3, 4] = 1
    yield "single_pixel_7x9", m
    m = np.zeros((1, 1), np.uint8); m[0, 0] = 1
    yield "single_pixel_1x1", m
    m = np.zeros((6, 11), np.uint8); m[1:4, 2:9] = 1
    yield "rectangle_6x11", m
    yield "random_13x17", (rng.random((13, 17)) > 0.5).astype(np.uint8)
    yield "random_40x3", (rng.random((40, 3)) > 0.7).astype(np.uint8)
    # Long runs exercise multi-character counts and negative deltas.
    m = np.zeros((120, 90), np.uint8); m[10:100, 5:80] = 1; m[50:60, 40:45] = 0
    yield "large_runs_120x90", m
    m = np.zeros((64, 48), np.uint8); m[:, :24] = 1
    yield "starts_with_ones_64x48", m


def main(out_path):
    vectors = []
    for name, m in masks():
        rle = mask_utils.encode(np.asfortranarray(m))
        vectors.append({
            "name": name,
            "height": int(m.shape[0]),
            "width": int(m.shape[1]),
            "rows": ["".join(str(int(v)) for v in row) for row in m],
            "counts": rle["counts"].decode("ascii"),
            "area": int(mask_utils.area(rle)),
            "bbox": [int(v) for v in mask_utils.toBbox(rle)],
        })
    with open(out_path, "w") as f:
        json.dump({"source": "pycocotools " + __import__("pycocotools").__version__
                   if hasattr(__import__("pycocotools"), "__version__") else "pycocotools",
                   "vectors": vectors}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/coco_rle_vectors.json")
