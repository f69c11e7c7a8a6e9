"""The perceptual hash every kept image carries: one definition for dedup, checks and tests."""

from __future__ import annotations

import io

import imagehash
from PIL import Image


def phash_png(png: bytes) -> int:
    """64-bit DCT perceptual hash of a PNG, as an unsigned int (the `phash` column)."""
    with Image.open(io.BytesIO(png)) as im:
        bits = imagehash.phash(im.convert("RGB")).hash.flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
