"""A plane through three points on a polyhedron's edges, or along a cylinder or cone
(round_section); the cross-section shaded, its vertices named."""
from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from pipelines.solid import figure3d, given, projection, solids
from pipelines.solid.base import SolidSample, choose, join_words, phrase
from pipelines.solid import polyhedron, round_section
from pipelines.solid.program import program

ROUND = ("cylinder", "cone")
SOLIDS_BY_DIFFICULTY = {1: ["cube", *ROUND], 2: ["cube", "cuboid", "pyramid", "tetrahedron", *ROUND],
                        3: ["cube", "cuboid", "prism", "pyramid", *ROUND]}
FRACTIONS_BY_DIFFICULTY = {1: [(0, 1), (1, 1), (1, 2)], 2: [(0, 1), (1, 2), (1, 1), (1, 2)],
                           3: [(1, 3), (1, 2), (2, 3), (1, 2), (0, 1)]}
NEW_NAMES = "MNPQRSTUW"
SHAPE_SIDES = {3: "triangle", 4: "quadrilateral", 5: "pentagon", 6: "hexagon"}


def edges(solid: solids.Solid) -> list[tuple[str, str]]:
    out = {tuple(sorted((a, b))) for f in solid.faces for a, b in zip(f, f[1:] + f[:1])}
    return sorted(out)


def cut_point(solid: solids.Solid, cut: list) -> np.ndarray:
    a, b, num, den = cut
    return np.array(solid.verts[a]) + num / den * np.subtract(solid.verts[b], solid.verts[a])


def section(solid: solids.Solid, cuts: list) -> list[tuple[np.ndarray, tuple]]:
    """Vertices of the section, in order round it: (point, (edge a, edge b, t)) or vertex name."""
    p0, p1, p2 = (cut_point(solid, c) for c in cuts)
    n = np.cross(p1 - p0, p2 - p0)
    n = n / np.linalg.norm(n)
    hits: list[tuple[np.ndarray, tuple]] = []
    for a, b in edges(solid):
        A, B = np.array(solid.verts[a]), np.array(solid.verts[b])
        da, db = np.dot(n, A - p0), np.dot(n, B - p0)
        if abs(da) < 1e-9:
            hits.append((A, (a,)))
        if abs(db) < 1e-9:
            hits.append((B, (b,)))
        if da * db < 0 and abs(da) > 1e-9 and abs(db) > 1e-9:
            hits.append((A + da / (da - db) * (B - A), (a, b, da / (da - db))))
    unique: list[tuple[np.ndarray, tuple]] = []
    for pt, where in hits:
        if all(np.linalg.norm(pt - q) > 1e-6 for q, _ in unique):
            unique.append((pt, where))
    if len(unique) < 3:
        return unique
    center = np.mean([q for q, _ in unique], axis=0)
    u = unique[0][0] - center
    u = u / np.linalg.norm(u)
    w = np.cross(n, u)
    return sorted(unique, key=lambda h: np.arctan2(np.dot(h[0] - center, w), np.dot(h[0] - center, u)))


def classify(poly: list[np.ndarray]) -> str:
    """Name the section polygon as a textbook would."""
    k = len(poly)
    tol = 2e-3 * max(np.ptp(np.array(poly), axis=0))  # vertices carry 3-decimal coordinates
    sides = [np.subtract(poly[(i + 1) % k], poly[i]) for i in range(k)]
    lengths = [np.linalg.norm(s) for s in sides]
    right = [abs(np.dot(sides[i - 1], sides[i])) < tol * max(lengths) for i in range(k)]
    equal = np.ptp(lengths) < tol

    def parallel(s, t):
        return np.linalg.norm(np.cross(s, t)) < tol * np.linalg.norm(t)

    if k == 3:
        pairs = sum(abs(lengths[i] - lengths[i - 1]) < tol for i in range(3))
        if equal:
            return "equilateral triangle"
        kind = "isosceles " if pairs else ""
        return f"{kind}right triangle" if any(right) else f"{kind}triangle"
    if k == 4:
        both = parallel(sides[0], sides[2]) and parallel(sides[1], sides[3])
        if both:
            return {(True, True): "square", (True, False): "rectangle",
                    (False, True): "rhombus", (False, False): "parallelogram"}[(all(right), equal)]
        if parallel(sides[0], sides[2]) or parallel(sides[1], sides[3]):
            legs = (lengths[1], lengths[3]) if parallel(sides[0], sides[2]) else (lengths[0], lengths[2])
            return "isosceles trapezoid" if abs(legs[0] - legs[1]) < tol else "trapezoid"
        return "quadrilateral"
    angles = [np.dot(sides[i - 1], sides[i]) / (lengths[i - 1] * lengths[i]) for i in range(k)]
    regular = equal and np.ptp(angles) < 1e-3
    return ("regular " if regular else "") + SHAPE_SIDES.get(k, f"{k}-gon")


def named_section(solid: solids.Solid, cuts: list) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """{name: point} round the section, and where each new point lies: {name: (a, b, t)}."""
    ring = section(solid, cuts)
    given = [cut_point(solid, c) for c in cuts]
    free = [c for c in NEW_NAMES if c not in solid.verts]
    # the three defining points are named first, in the order given, then the others round it
    order = sorted(range(len(ring)), key=lambda i: next(
        (j for j, g in enumerate(given) if np.linalg.norm(g - ring[i][0]) < 1e-6), 3 + i))
    names, where = {}, {}
    for i in order:
        pt, loc = ring[i]
        name = loc[0] if len(loc) == 1 else free.pop(0)
        names[i] = name
        if len(loc) == 3:
            where[name] = loc
    points = {names[i]: tuple(float(round(v, 4)) + 0.0 for v in ring[i][0]) for i in range(len(ring))}
    return points, where


def describe_point(name: str, loc: tuple) -> str:
    a, b, t = loc
    a, b = a.replace("_", ""), b.replace("_", "")
    ratio = Fraction(t).limit_denominator(24)
    if ratio == Fraction(1, 2):
        return f"{name} is the midpoint of {a}{b}"
    return f"{name} lies on {a}{b} with {a}{name} : {name}{b} = {ratio.numerator} : {ratio.denominator - ratio.numerator}"


def box_point(name: str, loc: tuple) -> str:
    """A new point's place, as the box of given values prints it: '$M$: midpoint of $AB$'."""
    a, b, t = loc
    ratio = Fraction(t).limit_denominator(24)
    if ratio == Fraction(1, 2):
        return f"${name}$: midpoint of ${a}{b}$"
    return f"${a}{name} : {name}{b}$ = {ratio.numerator} : {ratio.denominator - ratio.numerator}"


def make_solid(p: dict) -> solids.Solid:
    """The solid without a pyramid's altitude: the section is the subject here."""
    return dataclasses.replace(polyhedron.make_solid(p), altitude=None, extra={})


class CrossSection:
    name = "cross_section"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        d = min(max(difficulty, 1), 3)
        kind = choose(rng, SOLIDS_BY_DIFFICULTY[d])
        if kind in ROUND:
            return round_section.sample(rng, kind)
        a = choose(rng, [4, 5, 6])
        p = {"solid": kind, "a": a, "b": choose(rng, [3, 4, 5]) if kind == "cuboid" else None,
             "h": choose(rng, [a - 1, a, a + 1]) if kind in ("cuboid", "prism", "pyramid") else None,
             "n": choose(rng, [3, 4]) if kind in ("prism", "pyramid") else None,
             "apex": "S" if kind == "pyramid" else None, "show_dims": False, "style": int(rng.integers(1000))}
        solid = make_solid(p)
        for _ in range(300):
            picks = rng.choice(len(edges(solid)), size=3, replace=False)
            p["cuts"] = [[*edges(solid)[int(i)], *choose(rng, FRACTIONS_BY_DIFFICULTY[d])] for i in picks]
            p["view"] = projection.sample_view(rng)
            if _good(solid, p):
                break
        p["given"] = given.sample(rng)
        return p

    def build(self, p: dict) -> SolidSample:
        if p["solid"] in ROUND:
            return round_section.build(p, self.name)
        solid = make_solid(p)
        points, where = named_section(solid, p["cuts"])
        ring = "".join(points).replace("_", "")
        defining = [next(k for k, v in points.items() if np.linalg.norm(np.subtract(v, cut_point(solid, c))) < 1e-3)
                    for c in p["cuts"]]
        box = (["Given: the plane $" + "".join(defining) + "$"] + [box_point(k, v) for k, v in where.items()]
               + ["Find: the shape of the section"])
        fig = figure3d.with_box(figure3d.figure(solid, p, points), box, p.get("given"))
        shape = classify([np.array(v) for v in points.values()])
        code = program(
            f"The {_solid_name(solid, p)} cut by the plane through {_defining(solid, p)}; the section is shaded.",
            figure3d.setup_source(solid, p, fig, points), figure3d.funcs(p, points),
            figure3d.body_source(solid, p, points, boxed=bool(p.get("given"))))
        facts = [describe_point(k, v) for k, v in where.items()]
        caption = " ".join([
            phrase(p, [
                f"The {_solid_name(solid, p)} is drawn {projection.describe(p['view'])}, hidden edges dashed.",
                f"A figure of the {_solid_name(solid, p)}, {projection.describe(p['view'])}, with its hidden edges dashed.",
            ]),
            f"A plane through {_defining(solid, p)} cuts it; the cross-section {ring} is shaded light blue.",
            (join_words(facts) + ".") if facts else "",
            f"The section is a {shape} with {len(points)} vertices; its edges on hidden faces are dashed.",
            given.words(p["given"], f"the plane {''.join(defining).replace('_', '')}"
                        + "".join(f" ({v})" for v in [join_words(facts)] if facts),
                        "the shape of the section") if p.get("given") else "",
        ]).replace("  ", " ").strip()
        question = phrase(p, ["What kind of polygon is the shaded cross-section?",
                              "What shape is the section cut by the plane?"])
        return SolidSample(self.name, f"cross_section/{solid.kind}", p, code, caption, question, shape)


def _solid_name(solid: solids.Solid, p: dict) -> str:
    return solid.name.replace("_", "") if solid.kind != "pyramid" else \
        f"regular {'triangular' if p['n'] == 3 else 'square'} {solid.name}"


def _defining(solid: solids.Solid, p: dict) -> str:
    points, _ = named_section(solid, p["cuts"])
    given = [cut_point(solid, c) for c in p["cuts"]]
    names = [next(k for k, v in points.items() if np.linalg.norm(np.subtract(v, g)) < 1e-3) for g in given]
    return join_words([n.replace("_", "") for n in names])


def _good(solid: solids.Solid, p: dict) -> bool:
    pts = [cut_point(solid, c) for c in p["cuts"]]
    if np.linalg.norm(np.cross(pts[1] - pts[0], pts[2] - pts[0])) < 1e-6:
        return False
    ring = section(solid, p["cuts"])
    if len(ring) < 3 or figure3d.degenerate(solid, p["view"]):
        return False
    if any(min(np.linalg.norm(g - q) for q, _ in ring) > 1e-6 for g in pts):
        return False  # a defining point inside a side of the section would name no vertex
    n = np.cross(pts[1] - pts[0], pts[2] - pts[0])
    t = projection.toward(p["view"])
    if abs(np.dot(n, t)) < 0.35 * np.linalg.norm(n) * np.linalg.norm(t):
        return False  # a section seen nearly edge-on is a sliver
    for face in solid.faces:  # a plane holding a whole face gives no proper section
        a, b, c = (np.array(solid.verts[k]) for k in face[:3])
        n = np.cross(b - a, c - a)
        if all(abs(np.dot(n, q - a)) < 1e-6 for q, _ in ring):
            return False
    # new section points must stand clear of every other named point on the page
    pts3 = [q for q, w in ring if len(w) == 3] + list(solid.verts.values())
    xy = np.array(pts3) @ projection.matrix(p["view"]).T
    gaps = [np.linalg.norm(xy[i] - xy[j]) for i in range(len(xy)) for j in range(i)]
    return min(gaps) > 0.1 * np.ptp(xy, axis=0).max()
