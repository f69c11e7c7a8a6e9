"""Deterministic image checks that need no model (paper Supp. A, plus iccgen's own).

Each check returns a reject reason token, or None when the image passes.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MIN_SIDE = 128
MAX_ASPECT = 4.0
MIN_INK_SHARE = 0.005  # a few strokes on a blank canvas are not a figure


def image_array(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def check_image(png: bytes) -> str | None:
    pixels = image_array(png)
    h, w = pixels.shape[:2]
    if min(h, w) < MIN_SIDE:
        return "too_small"
    if max(h, w) / min(h, w) > MAX_ASPECT:
        return "bad_aspect"
    # Quantise so anti-aliasing noise does not hide a near-uniform canvas.
    q = (pixels // 8).reshape(-1, 3)
    codes = (q[:, 0].astype(np.int32) << 10) | (q[:, 1].astype(np.int32) << 5) | q[:, 2]
    counts = np.bincount(codes)
    if counts.max() / codes.size > 1 - MIN_INK_SHARE:
        return "blank_image"
    return None
