"""The deterministic image checks: each reject says what was wrong."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from pipelines.checks import check_image, check_texts


def png(width: int, height: int, ink: bool = True) -> bytes:
    im = Image.new("RGB", (width, height), "white")
    if ink:
        ImageDraw.Draw(im).rectangle([10, 10, width - 10, height - 10], outline="black", width=6)
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def text(label: str, box: list[float]) -> dict:
    return {"text": label, "bbox_px": box}


def test_a_plain_figure_passes():
    assert check_image(png(400, 300)) is None
    assert check_texts({"texts": [text("A", [10, 10, 30, 30]), text("B", [40, 10, 60, 30])]}, 400, 300) is None


def test_image_rejects_name_the_size_or_the_blank_share():
    small = check_image(png(100, 300))
    assert (small.reason, small.detail) == ("too_small", "100×300 px: a side under 128")
    assert check_image(png(1000, 200)).reason == "bad_aspect"
    blank = check_image(png(400, 300, ink=False))
    assert blank.reason == "blank_image" and blank.detail == "100.0% of the pixels are one colour"


def test_text_rejects_name_the_text():
    outside = check_texts({"texts": [text("y label", [-40, 100, 12, 130])]}, 400, 300)
    assert outside.reason == "text_outside"
    assert outside.detail == "'y label' spans x -40 to 12, y 100 to 130 on a 400×300 px image"
    over = check_texts({"texts": [text("A", [10, 10, 30, 30]), text("B", [15, 12, 35, 32])]}, 400, 300)
    assert (over.reason, over.detail) == ("text_overlap", "'A' is drawn over 'B'")
