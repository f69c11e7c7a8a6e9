"""Polyhedra with labelled vertices, hidden edges dashed, and dimensioned edges."""
from __future__ import annotations

import numpy as np

from pipelines.solid import figure3d, projection, solids
from pipelines.solid.base import SolidSample, choose, join_words, phrase
from pipelines.solid.program import program

KINDS_BY_DIFFICULTY = {
    1: ["cube", "cuboid", "tetrahedron"],
    2: ["cuboid", "prism", "pyramid"],
    3: ["prism", "pyramid", "octahedron"],
}
APEXES = ["P", "S", "V"]


def make_solid(p: dict) -> solids.Solid:
    kind = p["solid"]
    if kind == "cube":
        return solids.cube(p["a"])
    if kind == "cuboid":
        return solids.cuboid(p["a"], p["b"], p["h"])
    if kind == "prism":
        return solids.prism(p["n"], p["a"], p["h"])
    if kind == "pyramid":
        return solids.pyramid(p["n"], p["a"], p["h"], p["apex"])
    if kind == "tetrahedron":
        return solids.tetrahedron(p["a"])
    return solids.octahedron(p["a"])


class Polyhedron:
    name = "polyhedron"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        kind = choose(rng, KINDS_BY_DIFFICULTY[min(max(difficulty, 1), 3)])
        a = choose(rng, [2, 3, 4, 5, 6] if kind in ("cube", "cuboid") else [3, 4, 5, 6])
        p = {"solid": kind, "a": a, "b": None, "h": None, "n": None, "apex": None}
        if kind == "cuboid":
            p["b"], p["h"] = choose(rng, [2, 3, 4]), choose(rng, [2, 3, 4, 5])
        if kind in ("prism", "pyramid"):
            p["n"] = choose(rng, [3, 4] if difficulty < 3 else [3, 5, 6])
            p["h"] = choose(rng, [a - 1, a, a + 1, a + 2])  # tall thin solids crowd their base
        if kind == "pyramid":
            p["apex"] = choose(rng, APEXES)
        p["show_dims"] = bool(difficulty > 1 or rng.random() < 0.7)
        p["style"] = int(rng.integers(1000))
        # views that put a face edge-on or two vertices on top of each other read badly
        for _ in range(50):
            p["view"] = projection.sample_view(rng)
            if not figure3d.degenerate(make_solid(p), p["view"]):
                break
        return p

    def build(self, p: dict) -> SolidSample:
        solid = make_solid(p)
        fig = figure3d.figure(solid, p)
        code = program(_doc(solid, p), figure3d.setup_source(solid, p, fig), figure3d.funcs(p),
                       figure3d.body_source(solid, p))
        hidden = sorted(e for e, vis in fig["visibility"].items() if not vis)
        caption = _caption(solid, p, hidden, fig["dims"])
        names = ", ".join(a + b for a, b in hidden) or "none"
        question = phrase(p, [
            "Which edges of the solid are hidden from view (drawn dashed)?",
            "List the edges drawn as dashed lines in the figure.",
        ])
        return SolidSample(self.name, f"polyhedron/{solid.kind}", p, code, caption, question,
                           names.replace("_", ""))


def _title(solid: solids.Solid, p: dict) -> str:
    n = p["n"]
    base = {3: "triangular", 4: "square", 5: "pentagonal", 6: "hexagonal"}.get(n, "")
    if solid.kind == "prism":
        return f"right regular {base} prism {solid.name.split(' ', 1)[1]}".replace("_", "")
    if solid.kind == "pyramid":
        return f"regular {base} pyramid {solid.name.split(' ', 1)[1]}"
    return solid.name.replace("_", "")


def _doc(solid: solids.Solid, p: dict) -> str:
    title = _title(solid, p)
    return f"{title[0].upper()}{title[1:]}: vertices labelled, hidden edges dashed."


def _dims_text(solid: solids.Solid, p: dict) -> str:
    k = solid.kind
    if k == "cube":
        return f"edge length {p['a']}"
    if k == "cuboid":
        return f"length AB = {p['a']}, width BC = {p['b']} and height AA1 = {p['h']}"
    if k == "prism":
        return f"base edge {p['a']} and height {p['h']}"
    if k == "pyramid":
        return f"base edge {p['a']} and height {p['apex']}O = {p['h']}, O being the centre of the base"
    return f"edge length {p['a']}"


def _edges(hidden: list) -> str:
    return "edge" if len(hidden) == 1 else f"{len(hidden)} edges"


def _caption(solid: solids.Solid, p: dict, hidden: list, dims: list) -> str:
    title = _title(solid, p)
    n_v, n_f = len(solid.verts), len(solid.faces)
    n_e = n_v + n_f - 2
    view = projection.describe(p["view"])
    labels = join_words([k.replace("_", "") for k in solid.verts])
    hidden_words = join_words([(a + b).replace("_", "") for a, b in hidden]) if hidden else ""
    first = phrase(p, [
        f"A line drawing of the {title}, {view}.",
        f"The figure shows the {title} drawn {view}.",
        f"Textbook figure of the {title}, {view}.",
    ])
    parts = [first, f"It has {n_v} vertices, {n_e} edges and {n_f} faces; the vertices are labelled {labels}."]
    if hidden:
        parts.append(phrase(p, [
            f"Visible edges are solid lines; the hidden {_edges(hidden)} {hidden_words} "
            f"{'is' if len(hidden) == 1 else 'are'} dashed.",
            f"The {_edges(hidden)} {hidden_words} {'lies' if len(hidden) == 1 else 'lie'} behind the solid "
            f"and {'is' if len(hidden) == 1 else 'are'} drawn dashed; all other edges are solid.",
        ], "style"))
    else:
        parts.append("No edge is hidden, so every edge is drawn solid.")
    if solid.altitude:
        parts.append(f"The altitude {p['apex']}O from the apex to the centre O of the base is drawn dashed.")
    if p["show_dims"]:
        marked = join_words([f"{a}{b} = {v}".replace("_", "") for a, b, v, _ in dims])
        parts.append(f"The solid has {_dims_text(solid, p)}; dimension arrows mark {marked}"
                     + (f", and the height {p['h']:g} is written beside the altitude." if solid.altitude else "."))
    return " ".join(parts)
