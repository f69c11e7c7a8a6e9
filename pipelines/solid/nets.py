"""The 11 nets of a cube, generated (not hand-listed) and folded to find each square's face.

A net is a tuple of (col, row) cells, row 0 on top. Folding keeps the printed side outward:
each square gets the outward normal of the cube face it becomes and the cube-frame directions of
its own +col and +row axes, so "opposite" and "on the right of" questions have exact answers.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

Cell = tuple[int, int]
SYMMETRIES = [lambda c, r: (c, r), lambda c, r: (-c, r), lambda c, r: (c, -r), lambda c, r: (-c, -r),
              lambda c, r: (r, c), lambda c, r: (-r, c), lambda c, r: (r, -c), lambda c, r: (-r, -c)]
STEPS = {(1, 0): 0, (-1, 0): 0, (0, 1): 1, (0, -1): 1}


def normalise(cells) -> tuple[Cell, ...]:
    cells = list(cells)
    c0 = min(c for c, _ in cells)
    r0 = min(r for _, r in cells)
    return tuple(sorted((c - c0, r - r0) for c, r in cells))


def transform(cells, k: int) -> tuple[Cell, ...]:
    return normalise(SYMMETRIES[k](c, r) for c, r in cells)


def canonical(cells) -> tuple[Cell, ...]:
    return min(transform(cells, k) for k in range(8))


def fold(cells) -> dict[Cell, dict[str, tuple]] | None:
    """Fold a net (printed side out) by walking it from its first cell; None if faces collide.

    The first square lies on top of the cube (normal +z), its +col axis along +x and its +row
    axis (downward on the page) along -y. Stepping onto a neighbour turns the paper 90° over the
    shared edge: the neighbour's normal is the step direction and the step direction becomes the
    old normal reversed.
    """
    cells = list(cells)
    frame = {cells[0]: {"n": (0, 0, 1), "col": (1, 0, 0), "row": (0, -1, 0)}}
    todo = [cells[0]]
    while todo:
        c, r = todo.pop()
        f = {k: np.array(v) for k, v in frame[(c, r)].items()}
        for (dc, dr), axis in STEPS.items():
            nb = (c + dc, r + dr)
            if nb not in cells or nb in frame:
                continue
            step = f["col" if axis == 0 else "row"] * (dc + dr)
            new = dict(f)
            new["n"] = step
            new["col" if axis == 0 else "row"] = -f["n"] * (dc + dr)
            frame[nb] = {k: tuple(int(x) for x in v) for k, v in new.items()}
            todo.append(nb)
    normals = {v["n"] for v in frame.values()}
    return frame if len(frame) == 6 and len(normals) == 6 else None


@lru_cache(maxsize=1)
def all_nets() -> tuple[tuple[Cell, ...], ...]:
    """Grow every hexomino, keep the free ones that fold to a cube: the 11 nets."""
    shapes = {((0, 0),)}
    for _ in range(5):
        shapes = {normalise(s + (nb,)) for s in shapes for c, r in s
                  for nb in ((c + 1, r), (c - 1, r), (c, r + 1), (c, r - 1)) if nb not in s}
    free = {canonical(s) for s in shapes}
    return tuple(sorted(wide(s) for s in free if fold(s)))


def wide(cells) -> tuple[Cell, ...]:
    """The orientation of a net lying wider than tall (the first such symmetry)."""
    for k in range(8):
        t = transform(cells, k)
        if max(c for c, _ in t) >= max(r for _, r in t):
            return t
    return normalise(cells)


def arrangement(cells) -> str:
    """Textbook name from the row lengths of the wide orientation: 1-4-1, 2-3-1, 2-2-2 or 3-3."""
    w = wide(cells)
    rows = [sum(1 for _, r in w if r == k) for k in range(max(r for _, r in w) + 1)]
    if 4 in rows:
        return "1-4-1"
    return "-".join(map(str, sorted(rows, reverse=True))) if sorted(rows) != [1, 2, 3] else "2-3-1"
