"""Polyhedra with labelled vertices, hidden edges dashed, and dimensioned edges."""
from __future__ import annotations

import numpy as np

from pipelines.solid import figure3d, given, kernels, projection, solids
from pipelines.solid.base import SolidSample, choose, join_words, phrase, surd
from pipelines.solid.labels import point_segment_distance
from pipelines.solid.program import program

KINDS_BY_DIFFICULTY = {
    1: ["cube", "cuboid", "prism", "pyramid", "corner_pyramid", "frustum"],
    2: ["cuboid", "prism", "pyramid", "corner_pyramid", "frustum", "tetrahedron"],
    3: ["prism", "pyramid", "frustum", "octahedron"],
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
    if kind == "corner_pyramid":
        return solids.corner_pyramid(p["n"], p["a"], p["h"], p["apex"])
    if kind == "frustum":
        return solids.frustum(p["n"], p["a"], p["b"], p["h"])
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
        if kind == "frustum":
            p["b"] = choose(rng, list(range((a + 1) // 2, a)))  # the top edge: shorter, but room for four names
        if kind in ("prism", "pyramid", "corner_pyramid", "frustum"):
            p["n"] = choose(rng, [3, 4, 5] if difficulty < 3 else [3, 5, 6])
            p["h"] = choose(rng, list(range(a // 2 + 1, 2 * a)))  # taller still would crowd the base
        if kind in ("pyramid", "corner_pyramid"):
            p["apex"] = choose(rng, APEXES)
        p["show_dims"] = bool(difficulty > 1 or rng.random() < 0.7)
        p["style"] = int(rng.integers(1000))
        # views that put a face edge-on or two vertices on top of each other read badly
        for _ in range(50):
            p["view"] = projection.sample_view(rng)
            if not figure3d.degenerate(make_solid(p), p["view"]):
                break
        p["diagonal"] = _diagonal(rng, make_solid(p), p["view"]) if kind in ("cube", "cuboid") else None
        p["show_dims"] = p["show_dims"] or bool(p["diagonal"])  # its length needs the edges' lengths
        p["given"] = given.sample(rng)
        return p

    def build(self, p: dict) -> SolidSample:
        solid = make_solid(p)
        fig = figure3d.with_box(figure3d.figure(solid, p), _box(p), p.get("given"))
        code = program(_doc(solid, p), figure3d.setup_source(solid, p, fig), figure3d.funcs(p),
                       figure3d.body_source(solid, p, boxed=bool(p.get("given"))))
        hidden = sorted(e for e, vis in fig["visibility"].items() if not vis)
        caption = _caption(solid, p, hidden, fig["dims"])
        if p.get("given"):
            values = [f"{k} = {v:g}".replace("_", "") for k, v in given_values(p)]
            caption += " " + given.words(p["given"], values, _find(p))
        if p.get("diagonal"):
            a, b = p["diagonal"]
            caption += " " + _diagonal_words(solid, p)
            length = surd(int(round(np.sum(np.subtract(solid.verts[a], solid.verts[b]) ** 2))))
            return SolidSample(self.name, f"polyhedron/{solid.kind}/diagonal", p, code, caption,
                               f"Find the length of the diagonal {a}{b}.".replace("_", ""), length)
        names = ", ".join(a + b for a, b in hidden) or "none"
        question = phrase(p, [
            "Which edges of the solid are hidden from view (drawn dashed)?",
            "List the edges drawn as dashed lines in the figure.",
        ])
        return SolidSample(self.name, f"polyhedron/{solid.kind}", p, code, caption, question,
                           names.replace("_", ""))


def given_values(p: dict) -> list[tuple[str, float]]:
    """(segment, length) pairs that fix the solid, as the box of given values prints them."""
    k, a, b, h, apex = p["solid"], p["a"], p["b"], p["h"], p["apex"]
    return {"cuboid": [("AB", a), ("BC", b), ("AA_1", h)], "prism": [("AB", a), ("AA_1", h)],
            "pyramid": [("AB", a), (f"{apex}O", h)], "corner_pyramid": [("AB", a), (f"{apex}A", h)],
            "frustum": [("AB", a), ("A_1B_1", b), ("OO_1", h)]}.get(k, [("AB", a)])


def _find(p: dict) -> str:
    if p.get("diagonal"):
        return "the length of " + "".join(p["diagonal"]).replace("_", "")
    return "the hidden edges"


def _box(p: dict) -> list[str]:
    find = ("the length of $" + "".join(p["diagonal"]) + "$") if p.get("diagonal") else "the hidden edges"
    return ["Given:"] + [f"${k}$ = {v:g}" for k, v in given_values(p)] + [f"Find: {find}"]


def _diagonal(rng: np.random.Generator, solid: solids.Solid, view: dict) -> list[str] | None:
    """Two vertices joined by a face or space diagonal that passes clear of every other vertex on
    the page; None for about a third of the solids, which show their edges only."""
    if rng.random() < 0.35:
        return None
    edges = {tuple(sorted(e)) for f in solid.faces for e in zip(f, f[1:] + f[:1])}
    names = list(solid.verts)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if (a, b) not in edges and (b, a) not in edges]
    xy = {k: np.array(v) @ projection.matrix(view).T for k, v in solid.verts.items()}
    scale = np.ptp(np.array(list(xy.values())), axis=0).max()
    for i in rng.permutation(len(pairs)):
        a, b = pairs[int(i)]
        if all(point_segment_distance(xy[k], xy[a], xy[b]) > 0.06 * scale for k in names if k not in (a, b)):
            return [a, b]
    return None


def _diagonal_words(solid: solids.Solid, p: dict) -> str:
    a, b = p["diagonal"]
    on_face = any(a in f and b in f for f in solid.faces)
    seen = kernels.on_visible_face(solid.verts[a], solid.verts[b], solid.verts, solid.faces,
                                   projection.toward(p["view"]))
    name = f"{a}{b}".replace("_", "")
    return (f"The {'face' if on_face else 'space'} diagonal {name} is drawn "
            + ("as a solid line on a face turned toward the viewer." if seen else
               "dashed, " + ("on a hidden face." if on_face else "through the inside of the solid.")))


def _title(solid: solids.Solid, p: dict) -> str:
    n = p["n"]
    base = {3: "triangular", 4: "square", 5: "pentagonal", 6: "hexagonal"}.get(n, "")
    if solid.kind == "prism":
        return f"right regular {base} prism {solid.name.split(' ', 1)[1]}".replace("_", "")
    if solid.kind == "pyramid":
        return f"regular {base} pyramid {solid.name.split(' ', 1)[1]}"
    if solid.kind == "frustum":
        return f"regular {base} frustum {solid.name.split(' ', 1)[1]}".replace("_", "")
    if solid.kind == "corner_pyramid":
        return f"{base}-based pyramid {solid.name.split(' ', 1)[1]} with {p['apex']}A perpendicular to the base"
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
    if k == "frustum":
        return (f"base edges AB = {p['a']} and A1B1 = {p['b']}, and height OO1 = {p['h']}, "
                "O and O1 the centres of the bases")
    if k == "corner_pyramid":
        return f"base edge {p['a']} (a regular base) and height {p['apex']}A = {p['h']}"
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
    if solid.kind == "frustum":
        parts.append("The altitude OO1 joining the centres of the two bases is drawn dashed.")
    elif solid.altitude:
        parts.append(f"The altitude {p['apex']}O from the apex to the centre O of the base is drawn dashed.")
    if p["show_dims"]:
        marked = join_words([f"{a}{b} = {v}".replace("_", "") for a, b, v, _ in dims])
        parts.append(f"The solid has {_dims_text(solid, p)}; dimension arrows mark {marked}"
                     + (f", and the height {p['h']:g} is written beside the altitude." if solid.altitude else "."))
    return " ".join(parts)
