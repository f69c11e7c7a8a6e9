"""Page layout shared by the projected-3-D templates: scale, dimension placement, framing.

Every program draws on one axes filling its figure at a fixed scale: the solid's longest extent
takes about FIG_INCHES / 1.5 inches, so text sizes can be turned into data distances, and the page
is cropped to the figure (a tall solid gets a tall page), as a textbook crops its figures.
"""
from __future__ import annotations

import numpy as np

from pipelines.solid import labels
from pipelines.solid.labels import Segment

FIG_INCHES = 6.0
MIN_ASPECT = 0.55  # a page narrower than this looks like a strip, not a figure
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
    """Data limits holding all points and text discs with a margin, no flatter than MIN_ASPECT."""
    xy = np.array(list(points) + [np.add(c, s * r) for c, r in discs for s in (-1, 1)])
    lo, hi = xy.min(axis=0) - margin, xy.max(axis=0) + margin
    half = np.maximum((hi - lo) / 2, MIN_ASPECT * (hi - lo).max() / 2)
    mid = (lo + hi) / 2
    return ((round(float(mid[0] - half[0]), 2), round(float(mid[0] + half[0]), 2)),
            (round(float(mid[1] - half[1]), 2), round(float(mid[1] + half[1]), 2)))


def figsize(lims: tuple[tuple, tuple], inch: float) -> tuple[float, float]:
    """Figure size in inches that shows `lims` at `inch` data units per inch."""
    return tuple(round(float((hi - lo) / inch), 2) for lo, hi in lims)


def place_labels(anchors: dict, texts: dict, inch: float, segments: list[Segment],
                 discs: list[tuple]) -> dict:
    radii = {k: text_radius(texts[k], inch) for k in anchors}
    return labels.place(anchors, radii, segments, discs)


def arrange(anchors: dict, texts: dict, inch: float, segments: list[Segment], discs: list[tuple],
            margin: float) -> tuple[dict, tuple, tuple]:
    """Label offsets, then data limits and figure size holding the drawing and every text."""
    offsets = place_labels(anchors, texts, inch, segments, discs)
    placed = [(np.add(anchors[k], offsets[k]), text_radius(texts[k], inch)) for k in anchors]
    lims = frame([a for seg in segments for a in seg], discs + placed, margin)
    return offsets, lims, figsize(lims, inch)
