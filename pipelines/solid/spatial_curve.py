"""Space curves from their parametrisation, with their projections on the coordinate planes."""
from __future__ import annotations

import numpy as np

from pipelines.solid.base import SolidSample, choose, grid, phrase
from pipelines.solid.program import evaluate, num, program

CURVES_BY_DIFFICULTY = {1: ["helix", "conical_helix"], 2: ["helix", "conical_helix", "twisted_cubic"],
                        3: ["conical_helix", "viviani", "trefoil"]}
# a helix may wind about any axis: (x, y, z) of the z-axis helix rearranged, and the plane its
# projection is a circle (or spiral) on
AXES = {"z": ((0, 1, 2), "xy"), "x": ((2, 0, 1), "yz"), "y": ((1, 2, 0), "xz")}


def components(p: dict) -> tuple[str, str, str, str, str]:
    """(x, y, z) as numpy expressions in t, the range of t in code, and the same range in words."""
    c, k = [coef(v) for v in p["c"]], p["k"]
    turns = f"2 * np.pi * {k}" if k != 1 else "2 * np.pi"
    loops = f"{num(2 * k)}π"
    if "helix" in p["curve"]:
        stem = "" if p["curve"] == "helix" else "t * "
        xyz = (f"{c[0]}{stem}np.cos(t)", f"{c[0]}{stem}np.sin(t)", f"{c[1]}t")
        order, _ = AXES[p["axis"]]
        return (*(xyz[i] for i in order), turns, loops)
    if p["curve"] == "twisted_cubic":
        return ("t", "t**2", "t**3", num(p["c"][0]), num(p["c"][0]))
    if p["curve"] == "viviani":
        return (f"{c[0]}(1 + np.cos(t))", f"{c[0]}np.sin(t)", f"{coef(2 * p['c'][0])}np.sin(t / 2)",
                "4 * np.pi", "4π")
    return ("np.sin(t) + 2 * np.sin(2 * t)", "np.cos(t) - 2 * np.cos(2 * t)", f"-{c[0]}np.sin(3 * t)",
            "2 * np.pi", "2π")


def coef(v: float) -> str:
    """A factor in front of a term: nothing for 1, '2 * ' for 2."""
    return "" if v == 1 else f"{num(v)} * "


def words(expr: str) -> str:
    """A numpy expression as a reader would write it: 2 * np.cos(t) -> 2cos t."""
    out = expr.replace(" * np.", "").replace(" * t * ", "t ").replace("np.", "").replace("(t)", " t").replace("**2", "²")
    return out.replace("**3", "³").replace(" * t", "t").replace(" * (", "(").replace("(t / 2)", "(t/2)")


def start_of_range(p: dict) -> str:
    return f"-{p['c'][0]}" if p["curve"] == "twisted_cubic" else "0"


def plane(p: dict) -> str:
    """The coordinate plane the question asks about: the one across the helix's axis."""
    return AXES[p["axis"]][1]


def projection_fact(p: dict) -> str:
    c = p["c"]
    return {
        "helix": f"a circle of radius {c[0]} centred at the origin",
        "conical_helix": f"an Archimedean spiral r = {c[0]}θ winding out from the origin {p['k']} times",
        "twisted_cubic": "an arc of the parabola y = x²",
        "viviani": f"a circle of radius {c[0]} centred at ({c[0]}, 0)",
        "trefoil": "a closed trefoil curve that crosses itself 3 times",
    }[p["curve"]]


COLORS = {"tab:blue": "blue", "tab:red": "red", "tab:green": "green", "navy": "navy blue", "purple": "purple",
          "darkorange": "orange"}
NAMES = {"helix": "circular helix", "conical_helix": "conical helix", "twisted_cubic": "twisted cubic",
         "viviani": "Viviani curve (the intersection of a sphere and a cylinder)", "trefoil": "trefoil knot"}


class SpatialCurve:
    name = "spatial_curve"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        curve = choose(rng, CURVES_BY_DIFFICULTY[min(max(difficulty, 1), 3)])
        r = grid(rng, 1, 3, 0.25)
        # pitch in proportion to the radius keeps the plot box from turning into a needle
        c = {"helix": [r, round(r * grid(rng, 0.08, 0.25, 0.01), 2)],
             "conical_helix": [grid(rng, 0.15, 0.35, 0.05), grid(rng, 0.2, 0.6, 0.05)],
             "twisted_cubic": [grid(rng, 0.8, 1.6, 0.1)],
             "viviani": [grid(rng, 1, 2.5, 0.25)], "trefoil": [grid(rng, 0.5, 2, 0.25)]}[curve]
        # any azimuth that sees the box's corner: a side wall seen edge-on hides the projections
        azim = choose(rng, [a for a in range(-165, 170, 5) if 15 <= abs(a) % 90 <= 75])
        turns = [1, 1.5, 2, 2.5, 3] if curve == "helix" else [1.5, 2, 2.5, 3]
        return {"curve": curve, "c": c, "k": choose(rng, turns) if "helix" in curve else 1,
                "axis": choose(rng, list(AXES)) if "helix" in curve else "z",
                "elev": grid(rng, 10, 45, 5), "azim": azim, "color": choose(rng, list(COLORS)),
                "projections": bool(difficulty > 1 or rng.random() < 0.6), "style": int(rng.integers(1000))}

    def build(self, p: dict) -> SolidSample:
        fx, fy, fz, end, end_words = components(p)
        a = np.radians(p["azim"])  # the viewer looks from (cos a, sin a): the walls on the far side
        back_x, back_y = ("lo[0]" if np.cos(a) > 0 else "hi[0]"), ("hi[1]" if np.sin(a) < 0 else "lo[1]")
        t0 = start_of_range(p)
        setup = (f"# r(t) = ({words(fx)}, {words(fy)}, {words(fz)}), {t0} <= t <= {end_words}\n"
                 f"t = np.linspace({t0}, {end}, 800)\nx = {fx}\ny = {fy}\nz = {fz}")
        xyz = np.array([evaluate(setup, k) for k in "xyz"])
        closed = bool(np.allclose(xyz[:, 0], xyz[:, -1], atol=1e-6))
        body = [
            "fig = plt.figure(figsize=(6, 6))",
            'ax = fig.add_subplot(projection="3d")',
            f'ax.plot(x, y, z, color="{p["color"]}", lw=2.2)',
            'ax.scatter(*[[v[0], v[-1]] for v in (x, y, z)], color="k", s=25, depthshade=False)  # the ends',
            f'ax.text(x[0], y[0], z[0], "  t = {t0}", fontsize=11)',
        ]
        if not closed:
            body.append(f'ax.text(x[-1], y[-1], z[-1], "  t = {end_words}", fontsize=11)')
        body.append("lo, hi = [v.min() for v in (x, y, z)], [v.max() for v in (x, y, z)]")
        if p["projections"]:
            body += [
                "flat = np.full_like(t, 1.0)",
                "# shadows of the curve on the three back planes of the box",
                'ax.plot(x, y, lo[2] * flat, color="0.45", ls="--", lw=1)',
                f'ax.plot(x, {back_y} * flat, z, color="0.45", ls="--", lw=1)',
                f'ax.plot({back_x} * flat, y, z, color="0.45", ls="--", lw=1)',
            ]
        body += [
            "ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), zlim=(lo[2], hi[2]))",
            "ax.set_box_aspect(np.subtract(hi, lo))  # one unit is as long on every axis",
            'ax.set_xlabel("x")\nax.set_ylabel("y")\nax.set_zlabel("z")',
            "for axis in (ax.xaxis, ax.yaxis, ax.zaxis):  # white, grid-free panes, as in a textbook",
            "    axis.set_major_locator(plt.MaxNLocator(4))",
            "    axis.pane.set_visible(False)",
            "ax.grid(False)",
            f"ax.view_init(elev={p['elev']}, azim={p['azim']})",
            f'ax.set_title("r(t) = ({words(fx)}, {words(fy)}, {words(fz)})", fontsize=12)',
        ]
        code = program(f"The {NAMES[p['curve']].split(' (')[0]} r(t) = ({words(fx)}, {words(fy)}, {words(fz)})"
                       f" for {t0} <= t <= {end_words}.", setup, (), "\n".join(body))
        start, stop = (tuple(num(v, 2) for v in xyz[:, i]) for i in (0, -1))
        caption = " ".join([
            phrase(p, [
                f"A 3-D plot, in {COLORS[p['color']]}, of the {NAMES[p['curve']]} r(t) = ({words(fx)}, {words(fy)}, {words(fz)}) for {t0} ≤ t ≤ {end_words}.",
                f"The figure shows the space curve r(t) = ({words(fx)}, {words(fy)}, {words(fz)}), {t0} ≤ t ≤ {end_words}: a {NAMES[p['curve']]}, drawn in {COLORS[p['color']]}.",
            ]),
            (f"It is a closed curve; its starting point ({', '.join(start)}) at t = {t0} is marked with a dot." if closed else
             f"It starts at ({', '.join(start)}) and ends at ({', '.join(stop)}); both ends are marked with dots and their values of t."),
            (f"Dashed grey curves show its projections on the floor (xy-plane), the back wall (xz-plane) and the side wall (yz-plane); "
             f"the projection on the {plane(p)}-plane is {projection_fact(p)}." if p["projections"] else ""),
            f"Axes x, y, z are drawn to equal scale, viewed from elevation {p['elev']}° and azimuth {p['azim']}°.",
        ]).replace("  ", " ")
        question = f"What curve is the projection of r(t) onto the {plane(p)}-plane?"
        return SolidSample(self.name, f"spatial_curve/{p['curve']}", p, code, caption, question, projection_fact(p))
