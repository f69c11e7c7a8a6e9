"""Page layout shared by the projected-3-D templates: scale, dimension placement, framing.

Every program draws on one axes filling a FIG_INCHES square figure, so one data unit is
span / FIG_INCHES inches and text sizes can be turned into data distances.
"""
from __future__ import annotations

import numpy as np

from pipelines.solid import labels
from pipelines.solid.labels import Segment

FIG_INCHES = 6.0
LETTER_IN = 0.12  # radius of a one-letter vertex name at fontsize 15, in inches


def text_radius(text: str, inch: float) -> float:
    """Disc radius (data units) around a label; mathtext subscripts and digits count by length."""
    visible = text.replace("_", "").replace("$", "")
    return inch * (LETTER_IN + 0.045 * (len(visible) - 1))


def silhouette(p, q, points: np.ndarray) -> bool:
    """True when every projected point lies on one side of line pq (an outline edge)."""
    d = np.subtract(q, p)
    side = d[0] * (points[:, 1] - p[1]) - d[1] * (points[:, 0] - p[0])
    return bool((side > -1e-6).all() or (side < 1e-6).all())


def outward_offset(p, q, center, length: float) -> tuple[float, float]:
    """Offset perpendicular to pq, pointing away from center (where the figure is)."""
    d = np.subtract(q, p) / np.linalg.norm(np.subtract(q, p))
    n = np.array([-d[1], d[0]])
    if np.dot(n, np.subtract((np.add(p, q)) / 2, center)) < 0:
        n = -n
    return (round(float(n[0] * length), 3), round(float(n[1] * length), 3))


def dimension_marks(p, q, offset) -> tuple[list[Segment], tuple]:
    """The segments and the text disc that kernels.dimension draws for pq (for clearance)."""
    p, q, o = np.asarray(p), np.asarray(q), np.asarray(offset)
    segs = [(tuple(p + o), tuple(q + o))] + [(tuple(e + 0.2 * o), tuple(e + 1.15 * o)) for e in (p, q)]
    return segs, tuple((p + q) / 2 + o)


def frame(points: list, discs: list[tuple], margin: float) -> tuple[tuple, tuple]:
    """Square data limits holding all points and text discs with a margin."""
    xy = np.array(list(points) + [np.add(c, s * r) for c, r in discs for s in (-1, 1)])
    lo, hi = xy.min(axis=0) - margin, xy.max(axis=0) + margin
    half = (hi - lo).max() / 2
    mid = (lo + hi) / 2
    return ((round(float(mid[0] - half), 2), round(float(mid[0] + half), 2)),
            (round(float(mid[1] - half), 2), round(float(mid[1] + half), 2)))


def place_labels(anchors: dict, texts: dict, inch: float, segments: list[Segment],
                 discs: list[tuple]) -> dict:
    radii = {k: text_radius(texts[k], inch) for k in anchors}
    return labels.place(anchors, radii, segments, discs)
