"""How close a rendering is to the image it reproduces: deterministic, no model.

Two views that fail differently: SSIM of min-max normalised grayscale at a fixed size judges
layout and strokes (and is fooled by large white margins), the perceptual-hash distance judges
the coarse structure (and ignores thin lines). The thresholds live in `[reproduce]`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

SIZE = 256  # both images are compared at SIZE x SIZE, whatever their aspect


@dataclass(frozen=True)
class Similarity:
    ssim: float
    phash_distance: int

    def passes(self, min_ssim: float, max_phash_distance: int) -> bool:
        return self.ssim >= min_ssim and self.phash_distance <= max_phash_distance

    def to_dict(self) -> dict[str, float | int]:
        return {"ssim": round(self.ssim, 4), "phash_distance": self.phash_distance}


def _rgb(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as im:
        return im.convert("RGB")


def _normalised_gray(im: Image.Image) -> np.ndarray:
    gray = np.asarray(im.convert("L").resize((SIZE, SIZE), Image.Resampling.BILINEAR), np.float64)
    lo, hi = gray.min(), gray.max()
    # A flat image stays flat (all zero) rather than dividing by zero.
    return (gray - lo) / (hi - lo) if hi > lo else np.zeros_like(gray)


def similarity(reference: bytes, candidate: bytes) -> Similarity:
    """Compare two encoded images (PNG, JPEG, WebP)."""
    a, b = _rgb(reference), _rgb(candidate)
    ssim = structural_similarity(_normalised_gray(a), _normalised_gray(b), data_range=1.0)
    # Same definition as the `phash` column (iccgen.hashing): imagehash's DCT phash of RGB.
    distance = imagehash.phash(a) - imagehash.phash(b)
    return Similarity(float(ssim), int(distance))
