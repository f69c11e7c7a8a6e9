"""A surface z = f(x, y) over a region D, its upward normals, and the flux of F = (x, y, z)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from pipelines.solid.base import SolidSample, choose, count_word, grid, phrase
from pipelines.solid.program import evaluate, num, program

Monomial = list  # [i, j, coefficient] for coefficient * x**i * y**j


def poly_code(terms: list[Monomial]) -> str:
    """Python source of a polynomial in x and y, constant first: '4 - 0.5 * x**2 - 0.5 * y**2'."""
    out = ""
    for i, j, c in sorted(terms, key=lambda t: (t[0] + t[1], -t[0])):
        if c == 0:
            continue
        power = " * ".join(v + (f"**{e}" if e > 1 else "") for v, e in (("x", i), ("y", j)) if e)
        mag = num(abs(c))
        body = power if power and mag == "1" else (f"{mag} * {power}" if power else mag)
        out += (" - " if c < 0 else " + ") + body if out else ("-" if c < 0 else "") + body
    return out or "0 * x"


def derivative(terms: list[Monomial], var: int) -> list[Monomial]:
    out = []
    for t in terms:
        if t[var]:
            d = list(t)
            d[2] = t[2] * t[var]
            d[var] -= 1
            out.append(d)
    return out


def words(code: str) -> str:
    return code.replace("**2", "²").replace(" * ", "").replace("**3", "³")


def flux(terms: list[Monomial], region: dict) -> str:
    """Exact flux of F = (x, y, z) up through z = f over D: ∬_D (f - x f_x - y f_y) dA."""
    total = Fraction(0)
    for i, j, c in terms:
        weight = Fraction(c).limit_denominator(1000) * (1 - i - j)
        if region["kind"] == "rect":
            (x0, x1), (y0, y1) = ([Fraction(v).limit_denominator(100) for v in region[k]] for k in "xy")
            total += weight * (x1 ** (i + 1) - x0 ** (i + 1)) / (i + 1) * (y1 ** (j + 1) - y0 ** (j + 1)) / (j + 1)
        else:  # disk about the origin: only even powers survive; the integrals are multiples of π
            R = Fraction(region["R"]).limit_denominator(100)
            moment = {(0, 0): R ** 2, (2, 0): R ** 4 / 4, (0, 2): R ** 4 / 4}.get((i, j), Fraction(0))
            total += weight * moment
    if region["kind"] == "disk":
        if total == 0:
            return "0"
        head = "" if abs(total.numerator) == 1 else str(abs(total.numerator))
        return ("-" if total < 0 else "") + f"{head}π" + (f"/{total.denominator}" if total.denominator > 1 else "")
    return str(total)


def tidy(c: float) -> float:
    """A constant rounded up to quarters: short in the program, and exactly what the flux uses."""
    return float(np.ceil(c * 4) / 4)


def surface_terms(kind: str, rng: np.random.Generator, region: dict) -> list[Monomial]:
    """f's monomials; the constant lifts the lowest point of S just above D, so that an
    equal-scale plot stays compact."""
    lift = grid(rng, 1, 2, 0.25) if kind == "plane" else grid(rng, 0.5, 1.5, 0.25)
    if kind == "plane":
        a, b = grid(rng, 0.25, 0.75, 0.25), grid(rng, 0.25, 1, 0.25)
        return [[0, 0, tidy(a * region["x"][1] + b * region["y"][1] + lift)], [1, 0, -a], [0, 1, -b]]
    if kind == "paraboloid":
        k = grid(rng, 0.25, 0.75, 0.25)
        return [[0, 0, tidy(k * region["R"] ** 2 + lift)], [2, 0, -k], [0, 2, -k]]
    if kind == "bowl":
        return [[0, 0, lift], [2, 0, grid(rng, 0.25, 0.75, 0.25)], [0, 2, grid(rng, 0.25, 0.75, 0.25)]]
    if kind == "trough":  # a parabolic cylinder curved across x: a valley or a ridge, at most 2 deep
        w = region["x"][1]
        a = max(0.25, min(grid(rng, 0.25, 0.75, 0.25), np.floor(8 / w ** 2) / 4))
        return [[0, 0, lift], [2, 0, a]] if rng.random() < 0.5 else [[0, 0, tidy(a * w ** 2 + lift)], [2, 0, -a]]
    w = region["x"][1]
    return [[0, 0, tidy(0.5 * w ** 2 + lift)], [2, 0, 0.5], [0, 2, -0.5]]  # saddle


COLORS = {"#9ecae1": "light blue", "#a1d99b": "light green", "#fdae6b": "orange", "#bcbddc": "lavender",
          "#fc9272": "salmon"}
# a wire mesh is drawn in a darker shade of the same hue: (colour, its name)
WIRE = {"#9ecae1": ("#3182bd", "blue"), "#a1d99b": ("#31a354", "green"), "#fdae6b": ("#e6550d", "orange"),
        "#bcbddc": ("#756bb1", "purple"), "#fc9272": ("#de2d26", "red")}


def look(p: dict) -> str:
    """How S is drawn, in words."""
    if p["mesh"] == "wire":
        return f"a {WIRE[p['color']][1]} wire mesh"
    return COLORS[p["color"]]


def surface_code(p: dict) -> str:
    if p["mesh"] == "wire":
        return f'ax.plot_wireframe(X, Y, Z, color="{WIRE[p["color"]][0]}", lw=0.7, rstride=3, cstride=3)'
    return (f'ax.plot_surface(X, Y, Z, color="{p["color"]}", alpha=0.7, edgecolor="#3b4e66", lw=0.3, rstride=3, '
            'cstride=3,\n                shade=False)')


class SurfaceIntegral:
    name = "surface_integral"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        kind = choose(rng, {1: ["plane", "paraboloid", "trough", "bowl"], 2: ["paraboloid", "bowl", "plane", "trough"],
                            3: ["saddle", "bowl", "paraboloid", "trough"]}[min(max(difficulty, 1), 3)])
        if kind == "paraboloid" or (kind == "bowl" and rng.random() < 0.5):
            region = {"kind": "disk", "R": grid(rng, 1, 2.5, 0.1)}
        else:
            w, d = grid(rng, 0.75, 2.5, 0.25), grid(rng, 1, 3, 0.5)
            centred = kind != "plane"  # curved surfaces over a centred rectangle stay low
            region = {"kind": "rect", "x": [-w, w] if centred else [0, 2 * w],
                      "y": [-w, w] if kind == "saddle" else ([-d / 2, d / 2] if centred else [0, d])}
        # a plane is seen face-on from the +x, +y side; curved surfaces read well from any corner
        azim = (grid(rng, 10, 80, 5) if kind == "plane"
                else choose(rng, [grid(rng, lo, lo + 60, 5) for lo in (-165, -75, 15, 105)]))
        return {"surface": kind, "terms": surface_terms(kind, rng, region), "region": region,
                "arrows": choose(rng, [2, 3, 4]), "elev": grid(rng, 15, 45, 3), "azim": azim,
                "color": choose(rng, list(COLORS)),
                "mesh": choose(rng, ["shaded", "wire"]), "style": int(rng.integers(1000)),
                # a second, flat panel with D seen from above, beside or below the 3-D plot
                "panel": choose(rng, [None, None, "right", "below"])}

    def build(self, p: dict) -> SolidSample:
        terms, region = p["terms"], p["region"]
        f, fx, fy = poly_code(terms), poly_code(derivative(terms, 0)), poly_code(derivative(terms, 1))
        if region["kind"] == "disk":
            R = num(region["R"])
            grid = (f"# the region D: the disk x² + y² <= {R}², in polar coordinates\n"
                    f"r, th = np.meshgrid(np.linspace(0, {R}, 25), np.linspace(0, 2 * np.pi, 61))\n"
                    "X, Y = r * np.cos(th), r * np.sin(th)\n"
                    f"edge = np.linspace(0, 2 * np.pi, 200)\nBX, BY = {R} * np.cos(edge), {R} * np.sin(edge)\n"
                    f"# where the normals start: the centre and {3 * p['arrows']} points on a circle of radius {num(region['R'] * 0.6)}\n"
                    f"a = np.linspace(0, 2 * np.pi, {3 * p['arrows']}, endpoint=False)\n"
                    f"PX = np.r_[0, {num(region['R'] * 0.6)} * np.cos(a)]\nPY = np.r_[0, {num(region['R'] * 0.6)} * np.sin(a)]")
            n_arrows = 3 * p["arrows"] + 1
            region_words = f"the disk x² + y² ≤ {R}²"
        else:
            (x0, x1), (y0, y1) = ([num(v) for v in region[k]] for k in "xy")
            k = p["arrows"]
            grid = (f"# the region D: the rectangle {x0} <= x <= {x1}, {y0} <= y <= {y1}\n"
                    f"X, Y = np.meshgrid(np.linspace({x0}, {x1}, 25), np.linspace({y0}, {y1}, 25))\n"
                    f"BX, BY = np.array([{x0}, {x1}, {x1}, {x0}, {x0}]), np.array([{y0}, {y0}, {y1}, {y1}, {y0}])\n"
                    f"# where the normals start: a {k} x {k} grid of cell centres\n"
                    f"c = (np.arange({k}) + 0.5) / {k}\n"
                    f"PX, PY = np.meshgrid({x0} + ({x1} - {x0}) * c, {y0} + ({y1} - {y0}) * c)\n"
                    "PX, PY = PX.ravel(), PY.ravel()")
            n_arrows = k * k
            region_words = f"the rectangle {x0} ≤ x ≤ {x1}, {y0} ≤ y ≤ {y1}"
        setup = (f"def f(x, y):\n    return {f}\n\n\ndef f_x(x, y):\n    return {fx} + 0 * x\n\n\n"
                 f"def f_y(x, y):\n    return {fy} + 0 * y\n\n\n{grid}\nZ = f(X, Y)")
        Z = evaluate(setup, "Z")
        arrow = num(0.2 * float(np.ptp(evaluate(setup, "X"))) + 0.3, 2)  # arrows in scale with D
        panel = p.get("panel")
        size, grid = {None: ((6, 6), None), "right": ((9.5, 6), "1, 2, width_ratios=(2, 1)"),
                      "below": ((6, 9), "2, 1, height_ratios=(2, 1)")}[panel]
        head = (f"fig = plt.figure(figsize={size})\ncells = fig.add_gridspec({grid})  # the 3-D plot takes two thirds\n"
                'ax = fig.add_subplot(cells[0], projection="3d")' if grid
                else f'fig = plt.figure(figsize={size})\nax = fig.add_subplot(projection="3d")')
        head = head.replace("\n", "\n" + " " * 12)
        body = f'''
            {head}
            {surface_code(p)}
            ax.plot_surface(X, Y, 0 * Z, color="0.75", alpha=0.45, lw=0, shade=False)  # D on the plane z = 0
            ax.plot(BX, BY, 0 * BX, color="k", lw=1.4)
            ax.plot(BX, BY, f(BX, BY), color="#3b6e99", lw=1.4)  # the edge of S
            for i in np.linspace(0, len(BX) - 1, 5).astype(int)[:-1]:  # S stands on D: join their edges
                ax.plot([BX[i], BX[i]], [BY[i], BY[i]], [0, f(BX[i], BY[i])], color="0.3", lw=0.8, ls="--")
            # upward normals (-f_x, -f_y, 1), drawn as unit arrows
            N = np.stack([-f_x(PX, PY), -f_y(PX, PY), np.ones_like(PX)])
            ax.quiver(PX, PY, f(PX, PY), *N, length={arrow}, normalize=True, color="crimson", lw=1.5)
            ax.text(BX.max(), BY.min(), 0, "  D", fontsize=14)
            ax.text(BX[0], BY[0], f(BX[0], BY[0]), "  S", fontsize=14, color="#3b6e99")
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            ax.set_zlabel("z")
            for axis in (ax.xaxis, ax.yaxis, ax.zaxis):  # white, grid-free panes, as in a textbook
                axis.set_major_locator(plt.MaxNLocator(4))
                axis.pane.set_visible(False)
            ax.grid(False)
            ax.set_box_aspect((np.ptp(X), np.ptp(Y), max(Z.max(), 0) - min(Z.min(), 0)))  # equal scale
            ax.view_init(elev={p['elev']}, azim={p['azim']})
            ax.set_title("S: z = {words(f)} over D", fontsize=12)
            '''
        if panel:
            body += '''
            flat = fig.add_subplot(cells[1])  # D in the xy-plane, seen from above
            flat.fill(BX, BY, color="0.9")
            flat.plot(BX, BY, color="k", lw=1.4)
            flat.plot(PX, PY, "o", color="crimson", ms=5)  # where the normals start
            flat.set_aspect("equal")
            flat.set_xlabel("x")
            flat.set_ylabel("y")
            flat.set_title("the region D", fontsize=12)
            '''
        code = program(f"The surface S: z = {words(f)} over {region_words}, with upward unit normals.",
                       setup, (), body)
        zmin, zmax = float(Z.min()), float(Z.max())
        caption = " ".join([
            phrase(p, [
                f"A 3-D plot of the surface S: z = {words(f)} ({look(p)}) over the region D, {region_words}.",
                f"The figure shows the graph z = {words(f)} (the surface S, {look(p)}) above {region_words} (the region D).",
            ]),
            f"The region D is shaded grey on the plane z = 0 with its boundary drawn; on S, z runs from {num(zmin, 2)} to {num(zmax, 2)}.",
            f"{count_word(n_arrows).capitalize()} red arrows show upward unit normals (-f_x, -f_y, 1)/|·| of S, "
            f"with f_x = {words(fx)} and f_y = {words(fy)}.",
            f"Axes are to equal scale, viewed from elevation {p['elev']}° and azimuth {p['azim']}°.",
            (f"A second panel {'to the right' if p.get('panel') == 'right' else 'below'} shows the region D "
             "in the xy-plane from above, shaded grey with its boundary in black, and crimson dots where the "
             "normals start." if p.get("panel") else ""),
        ]).strip()
        question = ("Compute the flux of F(x, y, z) = (x, y, z) through S, oriented by the upward normal, "
                    "i.e. ∬_S F · n dS.")
        return SolidSample(self.name, f"surface_integral/{p['surface']}", p, code, caption, question,
                           flux(terms, region))
