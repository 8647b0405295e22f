"""What Client.segment returns: the segments as numpy arrays, masks decoded on first use."""
import io
from typing import Dict, List, Optional, Sequence

import numpy as np

from ovseg.masks import decode_rle
from ovseg.v1 import segmentation_pb2


class SegmentResult:
    """One image's answer. Arrays have one row per segment, in the server's order.

    labels (list of str), label_indices (into the request's labels), scores, areas (pixels
    at the original resolution), is_thing, boxes_xywh and boxes_xyxy (pixels), masks
    (N x H x W bool, decoded from COCO RLE when first read), model_version, timings (seconds
    per stage), request_id, and the raw SegmentResponse as `response`.
    """

    def __init__(self, response: segmentation_pb2.SegmentResponse):
        self.response = response
        segments = response.segments
        self.labels: List[str] = [s.label for s in segments]
        self.label_indices = np.array([s.label_index for s in segments], dtype=np.int64)
        self.scores = np.array([s.score for s in segments], dtype=np.float32)
        self.areas = np.array([s.area for s in segments], dtype=np.int64)
        self.is_thing = np.array([s.is_thing for s in segments], dtype=bool)
        self.boxes_xywh = np.array(
            [[s.bbox.x, s.bbox.y, s.bbox.width, s.bbox.height] for s in segments],
            dtype=np.float32).reshape(-1, 4)
        self.boxes_xyxy = self.boxes_xywh.copy()
        self.boxes_xyxy[:, 2:] += self.boxes_xyxy[:, :2]
        self.height = response.image_height
        self.width = response.image_width
        self.model_version = response.model_version
        self.request_id = response.request_id
        t = response.timings
        self.timings: Dict[str, float] = {
            "decode": t.decode_seconds, "queue": t.queue_seconds,
            "vocabulary": t.vocabulary_seconds, "compute": t.compute_seconds,
            "encode": t.encode_seconds, "total": t.total_seconds}
        self._masks: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def masks(self) -> np.ndarray:
        """N x H x W bool. Needs the COCO_RLE mask format (the default)."""
        if self._masks is None:
            masks = np.zeros((len(self), self.height, self.width), dtype=bool)
            for i, s in enumerate(self.response.segments):
                if s.WhichOneof("mask") != "rle":
                    raise ValueError(f"segment {i} has no COCO RLE mask (mask_format "
                                     f"{s.WhichOneof('mask')}): ask for mask_format='coco_rle'")
                masks[i] = decode_rle(s.rle.counts, s.rle.height, s.rle.width)
            self._masks = masks
        return self._masks

    @property
    def semantic_map(self) -> Optional[np.ndarray]:
        """H x W int32 label indices (-1: no label), when segment(semantic_map=True) asked
        for it; else None. Needs Pillow (the server sends a PNG)."""
        png = self.response.semantic_map_png
        if not png:
            return None
        from PIL import Image

        with Image.open(io.BytesIO(png)) as image:
            # 8-bit PNG (255 = none) up to 255 labels, else 16-bit (65535 = none).
            none = 255 if image.mode in ("L", "P") else 65535
            labels = np.asarray(image).astype(np.int32)
        labels[labels == none] = -1
        return labels

    def overlay(self, image, alpha: float = 0.5):
        """A PIL image: `image` (path, bytes, H x W x 3 uint8 array or PIL image, the one
        that was segmented) with each segment's mask tinted and its label and score at the
        mask's centre. Needs Pillow."""
        from PIL import Image, ImageDraw

        if isinstance(image, (str, bytes, bytearray)) or hasattr(image, "__fspath__"):
            image = Image.open(io.BytesIO(image) if isinstance(image, (bytes, bytearray))
                               else image)
        base = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image,
                          dtype=np.float32).copy()
        if base.shape[:2] != (self.height, self.width):
            raise ValueError(f"overlay: image is {base.shape[1]}x{base.shape[0]}, the result "
                             f"{self.width}x{self.height}")
        colours = _palette(len(self))
        for mask, colour in zip(self.masks, colours):
            base[mask] = (1 - alpha) * base[mask] + alpha * colour
        out = Image.fromarray(base.clip(0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(out)
        for mask, label, score in zip(self.masks, self.labels, self.scores):
            ys, xs = np.nonzero(mask)
            if len(xs):
                draw.text((float(xs.mean()), float(ys.mean())), f"{label} {score:.2f}",
                          fill=(255, 255, 255))
        return out

    def to_coco(self, image_id: int, category_ids: Sequence[int]) -> List[dict]:
        """COCO results (pycocotools' loadRes accepts them): category_ids[i] is the id of
        the request's i-th label."""
        out = []
        for i, s in enumerate(self.response.segments):
            entry = {"image_id": int(image_id), "category_id": int(category_ids[s.label_index]),
                     "bbox": [float(v) for v in self.boxes_xywh[i]], "score": float(s.score),
                     "area": int(s.area)}
            if s.WhichOneof("mask") == "rle":
                entry["segmentation"] = {"size": [s.rle.height, s.rle.width],
                                         "counts": s.rle.counts}
            out.append(entry)
        return out

    def __repr__(self) -> str:
        return (f"SegmentResult({len(self)} segments, {self.width}x{self.height}, "
                f"model {self.model_version})")


def _palette(n: int) -> np.ndarray:
    """n distinct colours (golden-angle hues), n x 3 floats in [0, 255]."""
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hues[:, None] * 6) % 6
    return 255 * (1 - np.clip(np.minimum(k, 4 - k), 0, 1) * 0.8)
