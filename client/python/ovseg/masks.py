"""COCO RLE, as the server writes it (byte-identical to pycocotools), decoded with numpy."""
from typing import List

import numpy as np


def decode_counts(counts: str) -> List[int]:
    """The run lengths of a compressed COCO RLE string (pycocotools' rleFrString)."""
    runs: List[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            c = ord(counts[position]) - 48
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            position += 1
            shift += 1
            if not more and (c & 0x10):
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def decode_rle(counts: str, height: int, width: int) -> np.ndarray:
    """A [height, width] bool mask. Runs alternate background and mask, column by column."""
    runs = decode_counts(counts)
    if sum(runs) != height * width:
        raise ValueError(f"RLE covers {sum(runs)} pixels, the mask has {height * width}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    return np.repeat(values, runs).reshape(width, height).T
