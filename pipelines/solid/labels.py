"""Placing text next to points so that it clears every drawn line and every other text.

Texts are modelled as discs (radius from the text's length); the figure's scale is known because
every template fixes its figure size and data limits, so page distances are data distances.
"""
from __future__ import annotations

import numpy as np

Segment = tuple[tuple[float, float], tuple[float, float]]


def point_segment_distance(p, a, b) -> float:
    p, a, b = (np.asarray(v, float) for v in (p, a, b))
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1))
    return float(np.linalg.norm(p - (a + t * ab)))


def clearance(center, radius: float, segments: list[Segment], discs: list[tuple]) -> float:
    """How far a disc of text stays from the lines and the other texts (negative: overlap)."""
    gaps = [np.inf]
    if segments:
        seg = np.asarray(segments, float)  # (n, 2 ends, 2 coords)
        a, ab = seg[:, 0], seg[:, 1] - seg[:, 0]
        t = np.clip(np.einsum("ij,ij->i", np.subtract(center, a), ab) /
                    np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
        gaps.append(float(np.min(np.linalg.norm(a + t[:, None] * ab - center, axis=1))) - radius)
    if discs:
        c = np.array([d[0] for d in discs], float)
        r = np.array([d[1] for d in discs], float)
        gaps.append(float(np.min(np.linalg.norm(c - center, axis=1) - r)) - radius)
    return min(gaps)


def place(anchors: dict[str, tuple[float, float]], radii: dict[str, float],
          segments: list[Segment], discs: list[tuple] | None = None) -> dict[str, tuple[float, float]]:
    """Offset (dx, dy) for each anchor's text: the candidate around it with the most clearance.

    Greedy in the order given; each placed text becomes an obstacle for the next. Anchors are
    obstacles too, so a label never sits on another vertex.
    """
    discs = list(discs or [])
    discs += [(p, 0.02) for p in anchors.values()]
    offsets = {}
    angles = np.radians(np.arange(0, 360, 15))
    for name, anchor in anchors.items():
        r = radii[name]
        best = None
        for scale in (1.25, 1.6, 2.0):
            for a in angles:
                off = scale * r * np.array([np.cos(a), np.sin(a)])
                # a nearer label reads better: prefer the smallest ring with fair clearance
                score = clearance(np.add(anchor, off), r, segments, discs) - 0.1 * r * scale
                if best is None or score > best[0]:
                    best = (score, off)
            if best[0] > 0.35 * r:
                break
        off = (round(float(best[1][0]), 3), round(float(best[1][1]), 3))
        offsets[name] = off
        discs.append((np.add(anchor, off), r))
    return offsets
