"""Combined solids: a cylinder capped by a cone or a hemisphere, or a prism capped by a pyramid."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from pipelines.solid import figure3d, kernels, layout, projection, solids
from pipelines.solid.base import SolidSample, choose, grid, phrase
from pipelines.solid.program import num, point, program

KINDS_BY_DIFFICULTY = {1: ["cylinder_cone", "cylinder_hemisphere"],
                       2: ["cylinder_cone", "cylinder_hemisphere", "prism_pyramid"],
                       3: ["cylinder_cone", "cylinder_hemisphere", "prism_pyramid"]}


def pi_text(k: Fraction) -> str:
    head = "" if k.numerator == 1 else str(k.numerator)
    return f"{head}π" + (f"/{k.denominator}" if k.denominator > 1 else "")


def volume(p: dict) -> str:
    r, h1, h2 = (Fraction(v).limit_denominator(100) for v in (p["r"], p["h1"], p["h2"] or 0))
    if p["kind"] == "cylinder_cone":
        return pi_text(r * r * h1 + r * r * h2 / 3)
    if p["kind"] == "cylinder_hemisphere":
        return pi_text(r * r * h1 + 2 * r ** 3 / 3)
    return str(r * r * h1 + r * r * h2 / 3)  # square prism and pyramid, base edge r


class CombinedSolid:
    name = "combined_solid"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        kind = choose(rng, KINDS_BY_DIFFICULTY[min(max(difficulty, 1), 3)])
        r = grid(rng, 1, 3, 0.25) if kind != "prism_pyramid" else grid(rng, 2, 5, 0.5)
        p = {"kind": kind, "r": r, "h1": grid(rng, 1.5, 5, 0.5),
             # a cone flatter than the view's tilt would hide its own base: keep it steeper
             "h2": grid(rng, max(1.5, np.ceil(r * 1.6) / 2), 4.5, 0.5) if kind != "cylinder_hemisphere" else None,
             "elev": grid(rng, 10, 30, 2), "style": int(rng.integers(1000))}
        if kind == "prism_pyramid":
            p |= {"n": 4, "apex": "P", "h": p["h2"], "show_dims": True}
            for _ in range(50):
                p["view"] = projection.sample_view(rng)
                if not figure3d.degenerate(_solid(p), p["view"]):
                    break
        return p

    def build(self, p: dict) -> SolidSample:
        if p["kind"] == "prism_pyramid":
            solid = _solid(p)
            fig = figure3d.figure(solid, p)
            code = program(f"A square prism ABCD-A_1B_1C_1D_1 capped by the pyramid P-A_1B_1C_1D_1.",
                           figure3d.setup_source(solid, p, fig), figure3d.funcs(p), figure3d.body_source(solid, p))
            shape = (f"a regular square prism ABCD-A1B1C1D1 with a square pyramid P-A1B1C1D1 on its top face, "
                     f"drawn {projection.describe(p['view'])}")
            dims = (f"base edge AB = {p['r']:g}, prism height AA1 = {p['h1']:g} and pyramid height PO1 = {p['h2']:g} "
                    "(O1 the centre of the top face, the altitude drawn dashed); hidden edges are dashed")
        else:
            code = _curved_program(p)
            top = "a cone" if p["kind"] == "cylinder_cone" else "a hemisphere"
            shape = (f"a cylinder with {top} of the same radius on top, seen from the side and "
                     f"{p['elev']}° above, so its circles appear as ellipses")
            dims = (f"radius {p['r']:g} (the dashed radius on the base, from its centre O), cylinder height {p['h1']:g}"
                    + (f" and cone height {p['h2']:g} (the dashed axis from the top centre O1 to the apex)"
                       if p["kind"] == "cylinder_cone" else "")
                    + "; the back halves of hidden circles are dashed")
        caption = " ".join([
            phrase(p, [f"A combined solid: {shape}.", f"The figure shows {shape}."]),
            f"Its dimensions are marked: {dims}.",
        ])
        unit = "" if p["kind"] == "prism_pyramid" else " (in terms of π)"
        question = f"What is the volume of the combined solid{unit}?"
        return SolidSample(self.name, f"combined_solid/{p['kind']}", p, code, caption, question, volume(p))


def _solid(p: dict) -> solids.Solid:
    return solids.prism_pyramid(4, p["r"], p["h1"], p["h2"], "P")


def _outline(p: dict) -> tuple[list, dict]:
    """The drawn curves as segments (for clear labels) and the label anchors, in page units."""
    e = np.radians(p["elev"])
    r, k, c = p["r"], np.sin(e), np.cos(e)
    top = p["h1"] * c
    t = np.linspace(0, 2 * np.pi, 73)
    pts = [np.c_[r * np.cos(t), y + r * k * np.sin(t)] for y in (0, top)]
    pts += [np.array([[-r, 0], [-r, top]]), np.array([[r, 0], [r, top]]), np.array([[0, 0], [r, 0]])]
    anchors = {"O": (0.0, 0.0), "O_1": (0.0, top)}
    if p["kind"] == "cylinder_cone":
        apex = top + p["h2"] * c
        pts += [np.array([[-r, top], [0, apex], [r, top]]), np.array([[0, top], [0, apex]])]
        anchors |= {"apex": (0.0, apex), "h2": (0.0, (top + apex) / 2)}
    else:
        u = np.linspace(0, np.pi, 37)
        pts.append(np.c_[r * np.cos(u), top + r * np.sin(u)])
    segments = [(tuple(a), tuple(b)) for poly in pts for a, b in zip(poly[:-1], poly[1:])]
    return segments, anchors


def _curved_program(p: dict) -> str:
    segments, anchors = _outline(p)
    span = max(np.ptp([s[0] for s in segments], axis=0)) * 1.6
    inch = span / layout.FIG_INCHES
    gap = 0.45 * inch
    dim_segs, mid = layout.dimension_marks((p["r"], 0), (p["r"], anchors["O_1"][1]), (gap, 0))
    texts = {"O": "O", "O_1": "O_1"}
    if p["kind"] == "cylinder_cone":
        texts["h2"] = f"{p['h2']:g}"
    # the radius value sits on the radius itself, on a white patch, like a dimension value
    disc = [(mid, layout.text_radius(f"{p['h1']:g}", inch)), ((p["r"] / 2, 0.0), layout.text_radius(f"{p['r']:g}", inch))]
    offsets = layout.place_labels({k: anchors[k] for k in texts}, texts, inch, segments + dim_segs, disc)
    label_discs = [(np.add(anchors[k], offsets[k]), layout.text_radius(texts[k], inch)) for k in texts]
    lims = layout.frame([a for s in segments + dim_segs for a in s], disc + label_discs, 0.3 * inch)
    cone = p["kind"] == "cylinder_cone"
    setup = "\n".join([
        f"R, H1 = {p['r']:g}, {p['h1']:g}  # radius and height of the cylinder",
        f"H2 = {p['h2']:g}  # height of the cone" if cone else "# the hemisphere on top has radius R",
        f"ELEV = np.radians({p['elev']})  # seen from the side, this far above",
        "K, C = np.sin(ELEV), np.cos(ELEV)  # circles flatten to ellipses R by R*K; heights shrink by C",
        "HIDDEN = (0, (4, 3))  # dash pattern of hidden lines",
        "LABELS = {" + ", ".join(f'"{k}": ({point(anchors[k])}, {point(offsets[k])})' for k in texts
                                 if k in ("O", "O_1")) + "}  # name: (point, offset of the text)",
        f"LIMITS = {lims}",
    ])
    body = [
        "fig = plt.figure(figsize=(6, 6))",
        "ax = fig.add_axes([0, 0, 1, 1])",
        "top = H1 * C",
        'arc(ax, 0, R, K, np.pi, 2 * np.pi)  # bottom circle: front half seen,',
        "arc(ax, 0, R, K, 0, np.pi, HIDDEN)  # back half hidden",
        "for x in (-R, R):  # sides of the cylinder",
        '    ax.plot([x, x], [0, top], color="k", lw=1.6)',
        'ax.plot([0, R], [0, 0], color="k", lw=1.2, ls=HIDDEN)  # a radius of the base',
    ]
    if cone:
        body += [
            "apex = top + H2 * C",
            "# the cone's outline lines touch the top ellipse where the tangents from the apex meet it",
            "touch = np.arcsin(R * K / (apex - top))",
            "arc(ax, top, R, K, np.pi - touch, 2 * np.pi + touch)",
            "arc(ax, top, R, K, touch, np.pi - touch, HIDDEN)",
            "for sign in (-1, 1):",
            '    ax.plot([0, sign * R * np.cos(touch)], [apex, top + R * K * np.sin(touch)], color="k", lw=1.6)',
            'ax.plot([0, 0], [top, apex], color="k", lw=1.2, ls=HIDDEN)  # the axis of the cone',
            f'ax.text({num(offsets["h2"][0])}, (top + apex) / 2 + {num(offsets["h2"][1])}, "{texts["h2"]}", '
            'fontsize=13, ha="center", va="center")',
        ]
    else:
        body += [
            "arc(ax, top, R, K, np.pi, 2 * np.pi)  # rim of the hemisphere: front half seen,",
            "arc(ax, top, R, K, 0, np.pi, HIDDEN)  # back half behind the dome",
            "dome = np.linspace(0, np.pi, 120)  # a sphere's outline is a circle",
            'ax.plot(R * np.cos(dome), top + R * np.sin(dome), color="k", lw=1.6)',
        ]
    body += [
        f'ax.text(R / 2, 0, "{p["r"]:g}", fontsize=13, ha="center", va="center", '
        'bbox=dict(facecolor="white", edgecolor="none", pad=1.5))',
        f'dimension(ax, (R, 0), (R, top), "{p["h1"]:g}", ({num(gap)}, 0))',
        "for name, ((x, y), (dx, dy)) in LABELS.items():",
        '    ax.text(x + dx, y + dy, f"${name}$", fontsize=15, ha="center", va="center")',
        "ax.set_xlim(LIMITS[0])", "ax.set_ylim(LIMITS[1])", 'ax.set_aspect("equal")', 'ax.axis("off")',
    ]
    what = "cone" if cone else "hemisphere"
    return program(f"A cylinder capped by a {what} of the same radius, with its dimensions.", setup,
                   (kernels.arc, kernels.dimension), "\n".join(body))
