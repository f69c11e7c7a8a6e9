"""A plane parallel to the axis of a cylinder, or through the apex of a cone, and its section.

The plane meets the base circle in the chord AB at distance d from the centre O (d = 0: the
axial section). A cylinder is cut in the rectangle ABB_1A_1, a cone with apex S in the isosceles
triangle SAB; the section is shaded and the question asks for its area, an exact surd.
"""
from __future__ import annotations

import numpy as np

from pipelines.solid import given, kernels, layout, revolution
from pipelines.solid.base import SolidSample, choose, phrase, surd
from pipelines.solid.program import num, point, program

SECTION_COLOR = "#9ecae1"


def area(p: dict) -> str:
    """Exact area: the chord is 2√(r² - d²); the cone's triangle has height √(h² + d²)."""
    r, h, d = p["r"], p["h"], p["d"]
    if p["solid"] == "cylinder":
        return surd(4 * h * h * (r * r - d * d))
    return surd((r * r - d * d) * (h * h + d * d))


def stack(p: dict) -> revolution.Stack:
    if p["solid"] == "cylinder":
        return revolution.Stack(p["r"], p["h"], "flat", "flat", None, None, p["elev"])
    return revolution.Stack(p["r"], 0, "flat", "cone", None, p["h"], p["elev"])


def chord_angles(p: dict) -> tuple[float, float]:
    """Where A and B lie on the base circle, in radians counter-clockwise from the right."""
    phi, alpha = np.radians(p["phi"]), np.arccos(p["d"] / p["r"])
    return phi - alpha, phi + alpha


def sample(rng: np.random.Generator, kind: str) -> dict:
    r = choose(rng, [2, 3, 4, 5, 6])
    # the chord's direction keeps the section turned toward the viewer, never seen edge-on
    phi = choose(rng, [a for a in range(-150, 155, 5) if abs(np.sin(np.radians(a))) >= 0.6])
    # heights from about 0.7 r (still steeper than the view's tilt) to 2 r + 1
    heights = list(range(max(2, int(np.ceil(0.7 * r))), 2 * r + 2))
    return {"solid": kind, "r": r, "h": choose(rng, heights), "d": choose(rng, list(range(r))),
            "phi": phi, "elev": choose(rng, list(range(14, 32, 2))), "side": choose(rng, [1, -1]),
            "style": int(rng.integers(1000)), "given": given.sample(rng)}


def box(p: dict, ring: list[str]) -> tuple[list[str], list[str]]:
    """The box of given values (mathtext) and the same values in the caption's words."""
    values = [("r", p["r"]), ("h", p["h"])] + ([("OM", p["d"])] if p["d"] else [])
    lines = (["Given: " + ", ".join(f"${k}$ = {v}" for k, v in values[:2])] + [f"${k}$ = {v}" for k, v in values[2:]]
             + ["Find: the area of $" + "".join(ring) + "$"])
    return lines, [f"{k} = {v}" for k, v in values]


def _points(p: dict, s: revolution.Stack) -> dict[str, np.ndarray]:
    """Page positions of every named point."""
    ta, tb = chord_angles(p)
    top = s.h1 * s.c

    def rim(t: float, y: float) -> np.ndarray:
        return np.array([s.r * np.cos(t), y + s.r * s.k * np.sin(t)])

    pts = {"A": rim(ta, 0), "B": rim(tb, 0), "O": np.zeros(2)}
    if p["solid"] == "cylinder":
        pts |= {"B_1": rim(tb, top), "A_1": rim(ta, top), "O_1": np.array([0.0, top])}
    else:
        pts["S"] = np.array([0.0, p["h"] * s.c])
    if p["d"]:
        pts["M"] = (pts["A"] + pts["B"]) / 2
    return pts


def _seen(p: dict, s: revolution.Stack, t: float) -> bool:
    """Is the line up the side from the rim point at angle t visible?"""
    if p["solid"] == "cylinder":
        return np.sin(t) < 0  # the front half of the cylinder faces the viewer
    return np.sin(t) < s.r * s.k / (p["h"] * s.c)  # a cone shows a little more than its front half


def _radius_angle(p: dict) -> float:
    """The drawn radius runs square to the chord, toward the front, so it never lies on AB."""
    phi = np.radians(p["phi"])
    return min(phi + np.pi / 2, phi - np.pi / 2, key=np.sin)


def build(p: dict, family: str) -> SolidSample:
    s = stack(p)
    cyl = p["solid"] == "cylinder"
    ring = ["A", "B", "B_1", "A_1"] if cyl else ["S", "A", "B"]
    page = _page(p, s, ring)
    caption = _caption(p, ring)
    if p.get("given"):
        lines, values = box(p, ring)
        lims, size, centre = given.attach(page["lims"], page["inch"], lines, p["given"])
        page |= {"lims": lims, "figsize": size, "given": (lines, centre)}
        caption += " " + given.words(p["given"], values, f"the area of {''.join(ring).replace('_', '')}")
    code = program(_doc(p), _setup(p, s, page), revolution.funcs(s) + ((kernels.dimension,) if cyl else ()),
                   _body(p, s, ring, page))
    question = phrase(p, [f"Find the area of the section {''.join(ring).replace('_', '')}.",
                          "What is the area of the shaded cross-section?"])
    return SolidSample(family, f"cross_section/{p['solid']}", p, code, caption, question, area(p))


def _page(p: dict, s: revolution.Stack, ring: list[str]) -> dict:
    """Drawn segments, texts and their offsets, limits and size of the page."""
    pts = _points(p, s)
    rim = np.array([s.r * np.cos(_radius_angle(p)), s.r * s.k * np.sin(_radius_angle(p))])
    segments = revolution.outline(s) + [(tuple(pts[a]), tuple(pts[b])) for a, b in zip(ring, ring[1:] + ring[:1])]
    segments += [((0.0, 0.0), tuple(rim))] + ([((0.0, 0.0), tuple(pts["M"]))] if p["d"] else [])
    inch = max(np.ptp([a for seg in segments for a in seg], axis=0)) * 1.6 / layout.FIG_INCHES
    discs = [(tuple(rim / 2), layout.text_radius(f"{s.r:g}", inch))]
    gap = p["side"] * 0.45 * inch  # the height's dimension line stands this far beside the cylinder
    if p["solid"] == "cylinder":
        marks, mid = layout.dimension_marks((p["side"] * s.r, 0), (p["side"] * s.r, s.h1 * s.c), (gap, 0))
        segments += marks
        discs.append((mid, layout.text_radius(f"{p['h']:g}", inch)))
    anchors, texts = {k: tuple(v) for k, v in pts.items()}, {k: k for k in pts}
    if p["solid"] == "cone":
        anchors["h"], texts["h"] = (0.0, p["h"] * s.c / 2), f"{p['h']}"
    if p["d"]:
        anchors["d"], texts["d"] = tuple(pts["M"] / 2), f"{p['d']}"
    offsets, lims, size = layout.arrange(anchors, texts, inch, segments, discs, 0.3 * inch)
    return {"offsets": offsets, "texts": texts, "lims": lims, "figsize": size, "gap": gap, "inch": inch}


def _doc(p: dict) -> str:
    where = "parallel to the axis of a cylinder" if p["solid"] == "cylinder" else "through the apex of a cone"
    return f"A plane {where}, {p['d']} from the axis; the section is shaded."


def _setup(p: dict, s: revolution.Stack, page: dict) -> str:
    names = {k: v for k, v in page["offsets"].items() if page["texts"][k] == k}
    values = {k: v for k, v in page["offsets"].items() if page["texts"][k] != k}
    return "\n".join(revolution.setup_lines(s) + [
        f"D, PHI = {p['d']}, np.radians({p['phi']})  # the plane: distance from the axis, direction of its normal",
        "ALPHA = np.arccos(D / R)  # A and B lie this far either side of PHI on the base circle",
        f"ROUND = np.radians({np.degrees(_radius_angle(p)):g})  # where the drawn radius points",
        "LABEL_OFFSETS = {" + ", ".join(f'"{k}": {point(v)}' for k, v in names.items())
        + "}  # where each name sits relative to its point",
        "VALUE_OFFSETS = {" + ", ".join(f'"{k}": {point(v)}' for k, v in values.items())
        + "}  # where the height and the distance are written",
    ] + (given.setup_lines(*page["given"]) if page.get("given") else []) + [
        f"LIMITS = {page['lims']}",
        f"FIGSIZE = {page['figsize']}  # inches: the page is cropped to the figure",
    ])


def _body(p: dict, s: revolution.Stack, ring: list[str], page: dict) -> str:
    cyl = p["solid"] == "cylinder"
    body = ["fig = plt.figure(figsize=FIGSIZE)", "ax = fig.add_axes([0, 0, 1, 1])"] + revolution.body_lines(s)
    body += ["", "",
             "def rim(t, y):  # the point at angle t on the circle drawn at page height y",
             "    return np.array([R * np.cos(t), y + R * K * np.sin(t)])",
             "", "",
             'P = {"A": rim(PHI - ALPHA, 0), "B": rim(PHI + ALPHA, 0), "O": np.zeros(2)}',
             'P |= {"B_1": rim(PHI + ALPHA, top), "A_1": rim(PHI - ALPHA, top), "O_1": np.array([0, top])}' if cyl
             else 'P["S"] = np.array([0, H2 * C])  # the apex']
    if p["d"]:
        body.append('P["M"] = (P["A"] + P["B"]) / 2  # the midpoint of AB: OM = D')
    ring_code = ", ".join(f'P["{k}"]' for k in ring)
    body += [f'ax.fill(*np.array([{ring_code}]).T, color="{SECTION_COLOR}", alpha=0.55, lw=0)  # the section',
             'ax.plot(*zip(P["A"], P["B"]), color="k", lw=1.6, ls=HIDDEN)  # AB lies on the hidden base']
    for a, t in zip("AB", chord_angles(p)):
        seen = _seen(p, s, t)
        body.append(f'ax.plot(*zip(P["{a}"], P["{a + "_1" if cyl else "S"}"]), color="k", lw=1.6'
                    f'{"" if seen else ", ls=HIDDEN"})  # on the {"front" if seen else "back"} of the surface')
    if cyl:
        body.append('ax.plot(*zip(P["A_1"], P["B_1"]), color="k", lw=1.6)  # on the top face, seen')
    body += ['ax.plot([0, R * np.cos(ROUND)], [0, R * K * np.sin(ROUND)], color="k", lw=1.2, ls=HIDDEN)  # a radius',
             'ax.text(R * np.cos(ROUND) / 2, R * K * np.sin(ROUND) / 2, "%g" % R, fontsize=13, ha="center", '
             'va="center", bbox=dict(facecolor="white", edgecolor="none", pad=1.5))']
    if p["d"]:
        body += ['ax.plot(*zip(P["O"], P["M"]), color="k", lw=1.2, ls=HIDDEN)  # the distance OM',
                 'ax.text(*(P["M"] / 2 + VALUE_OFFSETS["d"]), "%g" % D, fontsize=13, ha="center", va="center")']
    if cyl:
        body.append(f'dimension(ax, ({p["side"]} * R, 0), ({p["side"]} * R, top), "%g" % H1, ({num(page["gap"])}, 0))')
    else:
        body.append('ax.text(*(P["S"] / 2 + VALUE_OFFSETS["h"]), "%g" % H2, fontsize=13, ha="center", va="center")')
    body += ["for name, (dx, dy) in LABEL_OFFSETS.items():",
             '    ax.text(P[name][0] + dx, P[name][1] + dy, f"${name}$", fontsize=15, ha="center", va="center")']
    if page.get("given"):
        body.append(given.BODY)
    body += ["ax.set_xlim(LIMITS[0])", "ax.set_ylim(LIMITS[1])", 'ax.set_aspect("equal")', 'ax.axis("off")']
    return "\n".join(body)


def _caption(p: dict, ring: list[str]) -> str:
    cyl = p["solid"] == "cylinder"
    name = "rectangle" if cyl else "isosceles triangle"
    solid = (f"a cylinder of radius {p['r']} and height {p['h']}" if cyl
             else f"a cone with apex S, base radius {p['r']} and height {p['h']}")
    plane = ("parallel to its axis" if cyl else "through the apex S") + (
        f" at distance OM = {p['d']} from the axis (M the midpoint of AB)" if p["d"] else ", containing the axis")
    section = "".join(ring).replace("_", "")
    sides = (f"sides AB = A1B1 (chords of the two circles) and AA1 = BB1 = {p['h']}" if cyl
             else "equal sides SA and SB running down the surface to the base")
    return " ".join([
        phrase(p, [f"The figure shows {solid}, seen from the side and {p['elev']}° above, "
                   "so its circles appear as ellipses.",
                   f"A line drawing of {solid}, viewed from the side, {p['elev']}° above; hidden lines are dashed."]),
        f"A plane {plane} cuts the base circle (centre O) in the chord AB.",
        f"The section {section} is {'a' if cyl else 'an'} {name}, shaded light blue, with {sides}.",
        f"The radius {p['r']} is marked on a dashed radius of the base"
        + (" and the height on the dashed axis SO." if not cyl else " and the height by a dimension arrow."),
    ])
