"""Arrangements of unit cubes given as height maps, shared by cube_stack and three_view.

heights[row][col] is the number of cubes stacked on floor cell (col, row); row 0 is the front
row. Columns stand on the floor without gaps, so a height map fixes the solid.
"""
from __future__ import annotations

import numpy as np

from pipelines.solid import projection
from pipelines.solid.base import count_word

SIZES = {1: [(2, 2), (3, 2), (2, 3), (3, 3), (4, 2), (4, 3)], 2: [(3, 2), (3, 3), (4, 2)], 3: [(3, 3), (4, 3), (4, 4)]}  # (cols, rows)
TALLEST = {1: 3, 2: 3, 3: 4}


def cubes(heights: list[list[int]]) -> list[tuple[int, int, int]]:
    return [(x, y, z) for y, row in enumerate(heights) for x, h in enumerate(row) for z in range(h)]


def total(heights: list[list[int]]) -> int:
    return int(sum(map(sum, heights)))


def _ray_hits_box(origin, direction, lo) -> bool:
    """Does origin + s*direction (s > 0) pass through the unit box with lower corner lo?"""
    t0, t1 = 1e-9, np.inf
    for o, d, a in zip(origin, direction, lo):
        if abs(d) < 1e-12:
            if not a < o < a + 1:
                return False
            continue
        s0, s1 = sorted(((a - o) / d, (a + 1 - o) / d))
        t0, t1 = max(t0, s0), min(t1, s1)
    return t0 < t1


def every_column_seen(heights: list[list[int]], view: dict) -> bool:
    """True when the top of every floor cell (cube top or bare floor) is visible at its centre,
    so the drawing fixes every column height and the cube count is determined."""
    t = projection.toward(view)
    solid = cubes(heights)
    for y, row in enumerate(heights):
        for x, h in enumerate(row):
            top = (x + 0.5, y + 0.5, h + 1e-6)
            if any(_ray_hits_box(top, t, c) for c in solid):
                return False
    return True


def sample_heights(rng: np.random.Generator, difficulty: int, view: dict) -> list[list[int]]:
    """A random height map with no empty border row/column whose columns all show."""
    d = min(max(difficulty, 1), 3)
    for _ in range(200):
        cols, rows = SIZES[d][int(rng.integers(len(SIZES[d])))]
        h = rng.integers(0, TALLEST[d] + 1, size=(rows, cols))
        if rng.random() < 0.6:  # back rows at least as tall as front rows, as on a shelf
            h = -np.sort(-h, axis=0)[::-1]
        if (h[0] == 0).all() or (h[-1] == 0).all() or (h[:, 0] == 0).all() or (h[:, -1] == 0).all():
            continue
        heights = h.astype(int).tolist()
        if total(heights) >= 3 and every_column_seen(heights, view):
            return heights
    return [[1] * SIZES[d][0][0]] * SIZES[d][0][1]


def literal(heights: list[list[int]]) -> str:
    rows = ",\n           ".join(str(list(r)) for r in heights)
    return f"HEIGHTS = [{rows}]"


def rows_text(heights: list[list[int]]) -> str:
    """Column heights row by row, front to back, in words."""
    names = {1: ["the row"], 2: ["the front row", "the back row"],
             3: ["the front row", "the middle row", "the back row"]}
    labels = names.get(len(heights), [f"row {i + 1} from the front" for i in range(len(heights))])
    return "; ".join(f"{lab}, left to right: {', '.join(map(str, row))}" for lab, row in zip(labels, heights))


def summary(heights: list[list[int]]) -> str:
    n = total(heights)
    rows, cols = len(heights), len(heights[0])
    tallest = max(map(max, heights))
    return (f"{count_word(n).capitalize()} unit cubes stand on a {cols} × {rows} grid of floor cells "
            f"in columns up to {tallest} high")
