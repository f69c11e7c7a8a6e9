"""Deterministic image checks that need no model (paper Supp. A, plus iccgen's own).

Each check returns a `Rejected` (a reason token and what was wrong, for `iccgen inspect
--rejects`), or None when the image passes.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from iccgen.unit import Rejected

MIN_SIDE = 128
MAX_ASPECT = 4.0
MIN_INK_SHARE = 0.005  # a few strokes on a blank canvas are not a figure


def image_array(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def check_image(png: bytes) -> Rejected | None:
    pixels = image_array(png)
    h, w = pixels.shape[:2]
    if min(h, w) < MIN_SIDE:
        return Rejected("too_small", f"{w}×{h} px: a side under {MIN_SIDE}")
    if max(h, w) / min(h, w) > MAX_ASPECT:
        return Rejected("bad_aspect", f"{w}×{h} px: one side over {MAX_ASPECT:g} times the other")
    # Quantise so anti-aliasing noise does not hide a near-uniform canvas.
    q = (pixels // 8).reshape(-1, 3)
    codes = (q[:, 0].astype(np.int32) << 10) | (q[:, 1].astype(np.int32) << 5) | q[:, 2]
    counts = np.bincount(codes)
    if counts.max() / codes.size > 1 - MIN_INK_SHARE:
        return Rejected("blank_image", f"{counts.max() / codes.size:.1%} of the pixels are one colour")
    return None


TEXT_OUTSIDE_TOLERANCE_PX = 2.0
TEXT_OVERLAP_SHARE = 0.3  # of the smaller box: kerning-level touches are not overlaps


def _area(box: list[float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _intersection(a: list[float], b: list[float]) -> float:
    return _area([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])


def check_texts(trace: dict, width: int, height: int) -> Rejected | None:
    """Text cut off by the figure's edge, or drawn over other text (from the trace's boxes)."""
    boxes = [(t["text"], t["bbox_px"]) for t in trace.get("texts", []) if t.get("bbox_px")]
    tol = TEXT_OUTSIDE_TOLERANCE_PX
    for text, (x0, y0, x1, y1) in boxes:
        if x0 < -tol or y0 < -tol or x1 > width + tol or y1 > height + tol:
            return Rejected("text_outside", f"{text!r} spans x {x0:.0f} to {x1:.0f}, y {y0:.0f} to "
                            f"{y1:.0f} on a {width}×{height} px image")
    for i, (text_a, a) in enumerate(boxes):
        for text_b, b in boxes[i + 1:]:
            smaller = min(_area(a), _area(b))
            if smaller > 0 and _intersection(a, b) > TEXT_OVERLAP_SHARE * smaller:
                return Rejected("text_overlap", f"{text_a!r} is drawn over {text_b!r}")
    return None
