"""Combined solids: a cylinder with a cone or a hemisphere above and/or below, or a prism capped by a pyramid."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from pipelines.solid import figure3d, given, kernels, layout, projection, revolution, solids
from pipelines.solid.base import SolidSample, choose, grid, phrase
from pipelines.solid.program import num, point, program

TWO = ["cylinder_cone", "cylinder_hemisphere", "cone_cylinder", "hemisphere_cylinder"]
THREE = ["cone_cylinder_cone", "hemisphere_cylinder_hemisphere", "cone_cylinder_hemisphere",
         "hemisphere_cylinder_cone"]
KINDS_BY_DIFFICULTY = {1: TWO + THREE + ["prism_pyramid"], 2: TWO + THREE + ["prism_pyramid"],
                       3: THREE + ["prism_pyramid"]}
CAP_WORDS = {"cone": "a cone", "hemisphere": "a hemisphere"}


def stack(p: dict) -> revolution.Stack:
    """The cylinder with its caps, read from the kind: parts bottom to top, e.g. cone_cylinder."""
    parts = p["kind"].split("_")
    i = parts.index("cylinder")
    bottom = parts[0] if i == 1 else "flat"
    top = parts[i + 1] if i + 1 < len(parts) else "flat"
    return revolution.Stack(p["r"], p["h1"], bottom, top, p.get("h0"), p["h2"], p["elev"])


def pi_text(k: Fraction) -> str:
    head = "" if k.numerator == 1 else str(k.numerator)
    return f"{head}π" + (f"/{k.denominator}" if k.denominator > 1 else "")


def volume(p: dict) -> str:
    if p["kind"] == "prism_pyramid":  # square prism and pyramid, base edge r
        r, h1, h2 = (Fraction(v).limit_denominator(100) for v in (p["r"], p["h1"], p["h2"]))
        return str(r * r * h1 + r * r * h2 / 3)
    s = stack(p)
    r, h1 = Fraction(s.r).limit_denominator(100), Fraction(s.h1).limit_denominator(100)
    caps = {"flat": lambda h: 0, "cone": lambda h: r * r * Fraction(h).limit_denominator(100) / 3,
            "hemisphere": lambda h: 2 * r ** 3 / 3}
    return pi_text(r * r * h1 + caps[s.bottom](s.h0) + caps[s.top](s.h2))


def _steep_cone(rng: np.random.Generator, r: float) -> float:
    """A cone height: a cone flatter than the view's tilt would hide its own rim, keep it steeper."""
    return grid(rng, max(1.5, np.ceil(r * 1.6) / 2), 4.5, 0.5)


class CombinedSolid:
    name = "combined_solid"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        kind = choose(rng, KINDS_BY_DIFFICULTY[min(max(difficulty, 1), 3)])
        r = grid(rng, 1, 3, 0.25) if kind != "prism_pyramid" else grid(rng, 2, 5, 0.5)
        parts = kind.split("_")
        p = {"kind": kind, "r": r, "h1": grid(rng, 1, 6, 0.5),
             "h0": _steep_cone(rng, r) if parts[0] == "cone" else None,
             "h2": _steep_cone(rng, r) if parts[-1] in ("cone", "pyramid") else None,
             "elev": grid(rng, 10, 30, 2), "side": choose(rng, [1, -1]), "style": int(rng.integers(1000)),
             "given": given.sample(rng)}
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
            fig = figure3d.with_box(figure3d.figure(solid, p), box(p)[0], p.get("given"))
            code = program("A square prism ABCD-A_1B_1C_1D_1 capped by the pyramid P-A_1B_1C_1D_1.",
                           figure3d.setup_source(solid, p, fig), figure3d.funcs(p),
                           figure3d.body_source(solid, p, boxed=bool(p.get("given"))))
            shape = (f"a regular square prism ABCD-A1B1C1D1 with a square pyramid P-A1B1C1D1 on its top face, "
                     f"drawn {projection.describe(p['view'])}")
            dims = (f"base edge AB = {p['r']:g}, prism height AA1 = {p['h1']:g} and pyramid height PO1 = {p['h2']:g} "
                    "(O1 the centre of the top face, the altitude drawn dashed); hidden edges are dashed")
        else:
            code = _curved_program(p)
            shape, dims = _curved_words(p)
        caption = " ".join([
            phrase(p, [f"A combined solid: {shape}.", f"The figure shows {shape}."]),
            f"Its dimensions are marked: {dims}.",
            given.words(p["given"], box(p)[1], "the volume") if p.get("given") else "",
        ]).strip()
        unit = "" if p["kind"] == "prism_pyramid" else " (in terms of π)"
        question = f"What is the volume of the combined solid{unit}?"
        return SolidSample(self.name, f"combined_solid/{p['kind']}", p, code, caption, question, volume(p))


def box(p: dict) -> tuple[list[str], list[str]]:
    """The box of given values (mathtext lines) and the same values in the caption's words."""
    if p["kind"] == "prism_pyramid":
        values = [("AB", p["r"]), ("AA_1", p["h1"]), ("PO_1", p["h2"])]
    else:
        s = stack(p)
        values = [("r", s.r), ("h_1", s.h1)] + [(k, v) for k, v in (("h_0", s.h0), ("h_2", s.h2)) if v is not None]
    lines = ["Given:"] + [f"${k}$ = {v:g}" for k, v in values] + ["Find: the volume"]
    return lines, [f"{k} = {v:g}".replace("_", "") for k, v in values]


def _solid(p: dict) -> solids.Solid:
    return solids.prism_pyramid(4, p["r"], p["h1"], p["h2"], "P")


def _curved_words(p: dict) -> tuple[str, str]:
    s = stack(p)
    caps = [f"{CAP_WORDS[s.top]} of the same radius on top" if s.top != "flat" else "",
            f"{CAP_WORDS[s.bottom]} of the same radius below" if s.bottom != "flat" else ""]
    shape = (f"a cylinder with {' and '.join(c for c in caps if c)}, seen from the side and "
             f"{p['elev']}° above, so its circles appear as ellipses")
    cones = [f"{where} cone height {h:g} (the dashed axis from {centre} to the apex)"
             for where, h, centre in (("upper", s.h2, "the top centre O1"), ("lower", s.h0, "the centre O"))
             if h is not None]
    if len(cones) == 1:
        cones = [cones[0].split(" ", 1)[1]]
    dims = (f"radius {s.r:g} (the dashed radius from the centre O of the lower circle), cylinder height {s.h1:g}"
            + "".join(f" and {c}" for c in cones) + "; the back halves of hidden circles are dashed")
    return shape, dims


def _curved_program(p: dict) -> str:
    s = stack(p)
    segments = revolution.outline(s)
    span = max(np.ptp([a for seg in segments for a in seg], axis=0)) * 1.6
    inch = span / layout.FIG_INCHES
    side, top = p["side"], s.h1 * s.c
    dim_segs, mid = layout.dimension_marks((side * s.r, 0), (side * s.r, top), (side * 0.45 * inch, 0))
    anchors = {"O": (0.0, 0.0), "O_1": (0.0, top)}
    texts = {"O": "O", "O_1": "O_1"}
    for key, h, y, up in (("h2", s.h2, top, True), ("h0", s.h0, 0.0, False)):
        if h is not None:
            anchors[key] = (0.0, y + (1 if up else -1) * s.cap_height(up) / 2)
            texts[key] = f"{h:g}"
    # the radius value sits on the radius itself, on a white patch, like a dimension value
    radius_mid = (-side * s.r / 2, 0.0)
    disc = [(mid, layout.text_radius(f"{s.h1:g}", inch)), (radius_mid, layout.text_radius(f"{s.r:g}", inch))]
    offsets, lims, size = layout.arrange(anchors, texts, inch, segments + dim_segs, disc, 0.3 * inch)
    boxed = []
    if p.get("given"):
        lims, size, centre = given.attach(lims, inch, box(p)[0], p["given"])
        boxed = given.setup_lines(box(p)[0], centre)
    setup = "\n".join(revolution.setup_lines(s) + [
        "LABELS = {" + ", ".join(f'"{k}": ({point(anchors[k])}, {point(offsets[k])})' for k in ("O", "O_1"))
        + "}  # name: (point, offset of the text)"] + boxed + [
        f"LIMITS = {lims}",
        f"FIGSIZE = {size}  # inches: the page is cropped to the figure",
    ])
    body = ["fig = plt.figure(figsize=FIGSIZE)", "ax = fig.add_axes([0, 0, 1, 1])"] + revolution.body_lines(s)
    body.append(f'ax.plot([0, {-side} * R], [0, 0], color="k", lw=1.2, ls=HIDDEN)  # a radius of the lower circle')
    for key, y in (("h2", "top"), ("h0", "0")):
        if key in texts:
            up = key == "h2"
            cap = f"{'H2' if up else 'H0'} * C / 2"
            body.append(f'ax.text({num(offsets[key][0])}, {y} {"+" if up else "-"} {cap} + {num(offsets[key][1])}, '
                        f'"{texts[key]}", fontsize=13, ha="center", va="center")  # the cone\'s height')
    body += [
        f'ax.text({-side} * R / 2, 0, "{s.r:g}", fontsize=13, ha="center", va="center", '
        'bbox=dict(facecolor="white", edgecolor="none", pad=1.5))',
        f'dimension(ax, ({side} * R, 0), ({side} * R, top), "{s.h1:g}", ({num(side * 0.45 * inch)}, 0))',
        "for name, ((x, y), (dx, dy)) in LABELS.items():",
        '    ax.text(x + dx, y + dy, f"${name}$", fontsize=15, ha="center", va="center")',
    ] + ([given.BODY] if p.get("given") else []) + [
        "ax.set_xlim(LIMITS[0])", "ax.set_ylim(LIMITS[1])", 'ax.set_aspect("equal")', 'ax.axis("off")',
    ]
    what = " and ".join(f"{CAP_WORDS[c][2:]} {w}" for c, w in ((s.top, "above"), (s.bottom, "below")) if c != "flat")
    return program(f"A cylinder with a {what}, of the same radius, and its dimensions.", setup,
                   revolution.funcs(s) + (kernels.dimension,), "\n".join(body))
