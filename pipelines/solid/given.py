"""A framed box of given values beside the figure, as a textbook prints a problem's data next to
its drawing: "Given: AB = 4, PO = 5. Find: ...". It sits to the right of, to the left of or below
the drawing, outside its limits, so it never covers a line or a label.

θ holds only where the box goes (`given`: "right", "left", "below" or None); its lines are
derived from the other parameters by each family, so the caption and the box cannot disagree.
"""
from __future__ import annotations

import numpy as np

from pipelines.solid.base import choose, join_words
from pipelines.solid.program import num

PLACES = ("right", "left", "below")
FONT = 13
CHAR_IN = 0.62 * FONT / 72  # a generous average character width, inches
LINE_IN = 1.5 * FONT / 72  # line spacing 1.5
PAD_IN = 0.16  # the frame's padding round the text


def sample(rng: np.random.Generator, share: float = 0.6) -> str | None:
    """Where the box goes, or None (no box) for the rest."""
    return choose(rng, list(PLACES)) if rng.random() < share else None


def visible(line: str) -> str:
    return line.replace("$", "").replace("_", "")


def box_size(lines: list[str]) -> tuple[float, float]:
    """Width and height of the framed box, inches."""
    return (max(len(visible(t)) for t in lines) * CHAR_IN + 2 * PAD_IN,
            len(lines) * LINE_IN + 2 * PAD_IN)


def attach(lims: tuple, inch: float, lines: list[str], where: str) -> tuple[tuple, tuple, tuple]:
    """Page limits widened to hold the box on `where`, the new figure size and the box's centre."""
    (x0, x1), (y0, y1) = lims
    w, h = (v * inch for v in box_size(lines))
    gap = 0.25 * inch
    if where == "below":
        centre = ((x0 + x1) / 2, y0 - gap - h / 2)
        half = max(x1 - x0, w + 2 * gap) / 2
        x0, x1 = centre[0] - half, centre[0] + half
        y0 = y0 - 2 * gap - h
    elif where == "right":
        centre = (x1 + gap + w / 2, (y0 + y1) / 2)
        x1 = x1 + 2 * gap + w
    else:
        centre = (x0 - gap - w / 2, (y0 + y1) / 2)
        x0 = x0 - 2 * gap - w
    if y1 - y0 < h + 2 * gap:  # a flat drawing beside a tall box
        mid = (y0 + y1) / 2
        y0, y1 = mid - h / 2 - gap, mid + h / 2 + gap
    lims = tuple((round(float(lo), 2), round(float(hi), 2)) for lo, hi in ((x0, x1), (y0, y1)))
    size = tuple(round(float((hi - lo) / inch), 2) for lo, hi in lims)
    return lims, size, (round(float(centre[0]), 3), round(float(centre[1]), 3))


def setup_lines(lines: list[str], centre: tuple) -> list[str]:
    rows = ",\n".join(f"    {t!r}" for t in lines)
    return [f"GIVEN = [\n{rows},\n]  # the problem's data, printed in a box beside the figure",
            f"GIVEN_AT = ({num(centre[0])}, {num(centre[1])})  # centre of the box"]


BODY = ('ax.text(*GIVEN_AT, "\\n".join(GIVEN), fontsize=13, ha="center", va="center", linespacing=1.5,\n        multialignment="left", '
        '        bbox=dict(boxstyle="square,pad=0.6", facecolor="white", edgecolor="k", lw=1))')


def words(where: str, values: list[str] | str, find: str) -> str:
    """The caption's sentence about the box; values as 'AB = 4' (no mathtext)."""
    side = {"right": "To the right of", "left": "To the left of", "below": "Below"}[where]
    what = values if isinstance(values, str) else join_words(values)
    return f"{side} the figure, a framed box gives {what} and asks for {find}."
