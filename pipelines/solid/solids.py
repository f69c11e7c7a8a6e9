"""Convex solids as named vertices and outward-oriented faces, in textbook naming.

Bottom vertices are A, B, C, ... counter-clockwise seen from above with AB the front edge; top
vertices of prisms carry a subscript (A_1); a pyramid's apex is one letter, its foot O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from string import ascii_uppercase

import numpy as np

Vec = tuple[float, float, float]


@dataclass
class Solid:
    kind: str  # cube, cuboid, prism, pyramid, tetrahedron, octahedron
    name: str  # e.g. "cuboid ABCD-A_1B_1C_1D_1"
    verts: dict[str, Vec]
    faces: list[list[str]]
    dims: list[tuple[str, str, str]]  # (vertex, vertex, value): edges to dimension
    altitude: tuple[str, str] | None = None  # (apex, foot) of a pyramid
    extra: dict[str, Vec] = field(default_factory=dict)  # labelled points that are no vertex


def _round(p) -> Vec:
    return tuple(float(round(v, 3)) + 0.0 for v in p)


def _orient(verts: dict[str, Vec], faces: list[list[str]]) -> list[list[str]]:
    """Reorder each face counter-clockwise seen from outside (the solid is convex)."""
    center = np.mean(list(verts.values()), axis=0)
    out = []
    for face in faces:
        a, b, c = (np.array(verts[k]) for k in face[:3])
        outward = np.dot(np.cross(b - a, c - a), np.mean([verts[k] for k in face], axis=0) - center)
        out.append(face if outward > 0 else [face[0]] + face[:0:-1])
    return out


def polygon(n: int, circumradius: float) -> list[tuple[float, float]]:
    """Regular n-gon, counter-clockwise from above, its first edge at the front and horizontal."""
    start = -np.pi / 2 - np.pi / n
    return [(circumradius * np.cos(start + 2 * np.pi * k / n),
             circumradius * np.sin(start + 2 * np.pi * k / n)) for k in range(n)]


def _prism(base: list[tuple[float, float]], h: float, kind: str, dims, top=None) -> Solid:
    """Base and top joined by quadrilateral faces; the top is the base lifted unless given."""
    low = ascii_uppercase[:len(base)]
    verts = {k: _round((x, y, 0)) for k, (x, y) in zip(low, base)}
    verts |= {k + "_1": _round((x, y, h)) for k, (x, y) in zip(low, top or base)}
    n = len(base)
    faces = [list(low), [k + "_1" for k in low]]
    faces += [[low[i], low[(i + 1) % n], low[(i + 1) % n] + "_1", low[i] + "_1"] for i in range(n)]
    name = f"{kind} {''.join(low)}-{''.join(k + '_1' for k in low)}"
    return Solid(kind, name, verts, _orient(verts, faces), dims)


def cube(a: float) -> Solid:
    return _prism([(0, 0), (a, 0), (a, a), (0, a)], a, "cube", [("A", "B", _fmt(a))])


def cuboid(a: float, b: float, c: float) -> Solid:
    return _prism([(0, 0), (a, 0), (a, b), (0, b)], c, "cuboid",
                  [("A", "B", _fmt(a)), ("B", "C", _fmt(b)), ("A", "A_1", _fmt(c))])


def prism(n: int, edge: float, h: float) -> Solid:
    base = polygon(n, edge / (2 * np.sin(np.pi / n)))
    return _prism(base, h, "prism", [("A", "B", _fmt(edge)), ("A", "A_1", _fmt(h))])


def frustum(n: int, edge: float, top: float, h: float) -> Solid:
    """A regular frustum: the pyramid's top cut off parallel to the base, O and O_1 the centres."""
    circum = 1 / (2 * np.sin(np.pi / n))
    # only the base edge is dimensioned: a dimension on the small top runs into the edges behind it
    solid = _prism(polygon(n, edge * circum), h, "frustum", [("A", "B", _fmt(edge))], top=polygon(n, top * circum))
    solid.altitude, solid.extra = ("O_1", "O"), {"O": (0.0, 0.0, 0.0), "O_1": (0.0, 0.0, float(h))}
    return solid


def pyramid(n: int, edge: float, h: float, apex: str) -> Solid:
    base = polygon(n, edge / (2 * np.sin(np.pi / n)))
    low = ascii_uppercase[:n]
    verts = {k: _round((x, y, 0)) for k, (x, y) in zip(low, base)}
    verts[apex] = _round((0, 0, h))
    faces = [list(low)] + [[low[i], low[(i + 1) % n], apex] for i in range(n)]
    return Solid("pyramid", f"pyramid {apex}-{''.join(low)}", verts, _orient(verts, faces),
                 [("A", "B", _fmt(edge))], altitude=(apex, "O"), extra={"O": (0.0, 0.0, 0.0)})


def corner_pyramid(n: int, edge: float, h: float, apex: str) -> Solid:
    """A pyramid whose lateral edge from the apex to A stands perpendicular to the regular base."""
    base = polygon(n, edge / (2 * np.sin(np.pi / n)))
    low = ascii_uppercase[:n]
    verts = {k: _round((x, y, 0)) for k, (x, y) in zip(low, base)}
    verts[apex] = _round((*base[0], h))
    faces = [list(low)] + [[low[i], low[(i + 1) % n], apex] for i in range(n)]
    return Solid("corner_pyramid", f"pyramid {apex}-{''.join(low)}", verts, _orient(verts, faces),
                 [("A", "B", _fmt(edge)), ("A", apex, _fmt(h))])


def tetrahedron(edge: float) -> Solid:
    base = polygon(3, edge / np.sqrt(3))
    verts = {k: _round((x, y, 0)) for k, (x, y) in zip("ABC", base)}
    verts["D"] = _round((0, 0, edge * np.sqrt(2 / 3)))
    faces = [["A", "B", "C"], ["A", "B", "D"], ["B", "C", "D"], ["C", "A", "D"]]
    return Solid("tetrahedron", "regular tetrahedron ABCD", verts, _orient(verts, faces),
                 [("A", "B", _fmt(edge))])


def octahedron(edge: float) -> Solid:
    square = polygon(4, edge / np.sqrt(2))
    half = edge / np.sqrt(2)
    verts = {k: _round((x, y, half)) for k, (x, y) in zip("ABCD", square)}
    verts |= {"E": _round((0, 0, 2 * half)), "F": _round((0, 0, 0))}
    faces = [[a, b, apex] for apex in "EF" for a, b in zip("ABCD", "BCDA")]
    return Solid("octahedron", "regular octahedron E-ABCD-F", verts, _orient(verts, faces),
                 [("A", "B", _fmt(edge))])


def _fmt(x: float) -> str:
    return f"{x:g}"


def prism_pyramid(n: int, edge: float, h1: float, h2: float, apex: str) -> Solid:
    """A regular prism with a pyramid of the same base standing on its top face."""
    low = _prism(polygon(n, edge / (2 * np.sin(np.pi / n))), h1, "prism", [])
    verts = low.verts | {apex: (0.0, 0.0, float(h1 + h2))}
    tops = [k + "_1" for k in ascii_uppercase[:n]]
    faces = [f for f in low.faces if set(f) != set(tops)]
    faces += [[tops[i], tops[(i + 1) % n], apex] for i in range(n)]
    name = f"{low.name.split(' ', 1)[1]} with pyramid {apex}-{''.join(tops)}"
    return Solid("prism_pyramid", name, verts, _orient(verts, faces),
                 [("A", "B", _fmt(edge)), ("A", "A_1", _fmt(h1))], altitude=(apex, "O_1"),
                 extra={"O_1": (0.0, 0.0, float(h1))})
