"""Judge-free similarity of two renderings, from their execution traces and their pixels.

The trace side follows ChartMimic's low-level metrics: F1 between what the reference drew and
what the candidate drew, for texts, mark kinds, colours and layout (the axes' relative boxes).
Each is a multiset F1 over features read from the sandbox tracer's record (ξ(c)), so the same
pair of programs always gets the same score, with no model involved. The pixel side is SSIM and
the perceptual-hash distance of `pipelines.similarity`, as the Reproduce pipeline compares images.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.similarity import similarity

COLOUR_LEVELS = 8  # per channel: antialiasing and near-identical shades count as one colour
LAYOUT_STEPS = 8  # axes boxes are compared on an 8 x 8 grid of the axes' joint extent
PHASH_BITS = 64


@dataclass(frozen=True)
class TraceScore:
    text_f1: float
    kind_f1: float
    colour_f1: float
    layout_f1: float

    @property
    def mean(self) -> float:
        return (self.text_f1 + self.kind_f1 + self.colour_f1 + self.layout_f1) / 4

    def to_dict(self) -> dict[str, float]:
        return {**{k: round(v, 4) for k, v in asdict(self).items()}, "trace": round(self.mean, 4)}


@dataclass(frozen=True)
class PixelScore:
    ssim: float
    phash_distance: int

    @property
    def similarity(self) -> float:
        """SSIM and hash agreement averaged, in [0, 1] (negative SSIM counts as 0)."""
        return (max(self.ssim, 0.0) + 1 - self.phash_distance / PHASH_BITS) / 2

    def to_dict(self) -> dict[str, float | int]:
        return {"ssim": round(self.ssim, 4), "phash_distance": self.phash_distance,
                "pixel": round(self.similarity, 4)}


def f1(reference: Iterable[Any], candidate: Iterable[Any]) -> float:
    """Multiset F1; two empty sides agree (1.0), one empty side scores 0."""
    ref, cand = Counter(reference), Counter(candidate)
    if not ref and not cand:
        return 1.0
    common = sum((ref & cand).values())
    if not common:
        return 0.0
    precision, recall = common / sum(cand.values()), common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def _texts(trace: dict[str, Any]) -> list[str]:
    return [re.sub(r"\s+", " ", t["text"]).strip().lower() for t in trace.get("texts", [])
            if t.get("text", "").strip()]


def _kinds(trace: dict[str, Any]) -> list[str]:
    kinds = [("markers" if ln.get("linestyle") in ("None", "none", "") else "line")
             for ln in trace.get("lines", [])]
    for group in ("patches", "collections", "images", "axes"):
        kinds += [f"{group}:{item.get('kind')}" for item in trace.get(group, [])]
    return kinds


def _quantised(colour: str | None) -> str | None:
    if not colour or not colour.startswith("#") or len(colour) < 7:
        return None  # "none" (transparent) draws nothing
    step = 256 // COLOUR_LEVELS
    return "".join(f"{int(colour[i:i + 2], 16) // step:x}" for i in (1, 3, 5))


def _colours(trace: dict[str, Any]) -> list[str]:
    raw = [ln.get("color") for ln in trace.get("lines", [])]
    raw += [p.get("facecolor") for p in trace.get("patches", [])]
    raw += [c for coll in trace.get("collections", []) for c in coll.get("facecolors", [])]
    raw += [t.get("color") for t in trace.get("texts", []) if t.get("role") not in ("xtick", "ytick", "ztick")]
    return [q for q in map(_quantised, raw) if q is not None]


def _layout(trace: dict[str, Any]) -> list[tuple]:
    axes = [a for a in trace.get("axes", []) if a.get("visible", True) and a.get("bbox_px")]
    if not axes:
        return []
    boxes = [a["bbox_px"] for a in axes]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    width = max(max(b[2] for b in boxes) - x0, 1e-9)
    height = max(max(b[3] for b in boxes) - y0, 1e-9)

    def grid(v: float, origin: float, span: float) -> int:
        return round((v - origin) / span * LAYOUT_STEPS)

    return [(a.get("kind"), grid(b[0], x0, width), grid(b[1], y0, height), grid(b[2], x0, width),
             grid(b[3], y0, height)) for a, b in zip(axes, boxes)]


def trace_score(reference: dict[str, Any], candidate: dict[str, Any]) -> TraceScore:
    return TraceScore(
        text_f1=f1(_texts(reference), _texts(candidate)),
        kind_f1=f1(_kinds(reference), _kinds(candidate)),
        colour_f1=f1(_colours(reference), _colours(candidate)),
        layout_f1=f1(_layout(reference), _layout(candidate)),
    )


def pixel_score(reference_png: bytes, candidate_png: bytes) -> PixelScore:
    s = similarity(reference_png, candidate_png)
    return PixelScore(s.ssim, s.phash_distance)
