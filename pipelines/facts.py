"""Facts a caption may state, read from a program's execution trace (paper §3.2, ξ(c)) and from
the program's text.

The trace records what was actually drawn, so a caption built from these facts cannot claim a
count, label or range the image does not have. The program adds what the trace cannot see: its
literals, constant expressions and array lengths (`code_numbers`) and its colour strings.
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from matplotlib import colors as mcolors

from pipelines.data_claims import DataFacts, data_facts

# A small vocabulary: "teal-ish #2a9d8f" is better said "green" than "lightseagreen".
_NAMED = {
    "black": "#000000", "white": "#ffffff", "gray": "#808080", "red": "#d62728",
    "orange": "#ff7f0e", "yellow": "#f2d933", "green": "#2ca02c", "blue": "#1f77b4",
    "purple": "#9467bd", "pink": "#e377c2", "brown": "#8c564b", "cyan": "#17becf",
    "navy": "#000080", "magenta": "#d400d4", "olive": "#bcbd22", "light blue": "#9ecae1",
    "dark green": "#006400", "dark red": "#8b0000",
}
_NAMED_RGB = {name: mcolors.to_rgb(hexa) for name, hexa in _NAMED.items()}


def colour_name(value: str | None) -> str | None:
    if not value:
        return None
    try:
        r, g, b = mcolors.to_rgb(value)
    except ValueError:
        return None
    return min(_NAMED_RGB, key=lambda n: sum((a - c) ** 2 for a, c in zip((r, g, b), _NAMED_RGB[n])))


@dataclass
class PanelFacts:
    kind: str
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    zlabel: str = ""
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    view: dict[str, float] | None = None
    lines: int = 0
    line_colours: list[str] = field(default_factory=list)
    line_styles: list[str] = field(default_factory=list)
    markers: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    points: int = 0
    texts: list[str] = field(default_factory=list)
    legend: list[str] = field(default_factory=list)
    index: int = 0  # the trace's axes index (what `Series.panel` refers to)
    axis_on: bool = True
    xscale: str = "linear"
    yscale: str = "linear"
    #: where each text is anchored in data coordinates, None where it is placed otherwise
    text_xy: list[tuple[float, float] | None] = field(default_factory=list)
    shape_colours: Counter[str] = field(default_factory=Counter)  # fills of the patches, named
    #: the box the lines span, (xmin, xmax, ymin, ymax): what a drawing without axes covers
    extent: tuple[float, float, float, float] | None = None


@dataclass
class Facts:
    panels: list[PanelFacts]
    suptitle: str = ""
    figure_texts: list[str] = field(default_factory=list)
    #: every string drawn, tick labels included (what a caption may quote or read off)
    drawn: list[str] = field(default_factory=list)
    #: numbers the figure shows or is built on: limits, view angles, plotted points, geometry
    numbers: list[float] = field(default_factory=list)
    #: drawn colours as hex, from lines, patches, collections and texts
    colours: list[str] = field(default_factory=list)
    #: ordered tuples a caption may list: plotted points, text anchors, axis ranges
    sequences: list[tuple[float, ...]] = field(default_factory=list)
    #: the plotted curves and bars, for claims about the data (extrema, trends, comparisons)
    data: DataFacts = field(default_factory=DataFacts)

    def counts(self) -> dict[str, set[int]]:
        """Marks per kind, per panel and over the figure: what "5 lines" may be checked against."""
        out: dict[str, set[int]] = {"panel": {len(self.panels)}}
        if self.figure_texts:
            out["figure text"] = {len(self.figure_texts)}
        for tally in [*(_tally(p) for p in self.panels), _total(self.panels)]:
            for noun, n in tally.items():
                out.setdefault(noun, set()).add(n)
        for p in self.panels:  # "12 black, 4 orange" lines
            for name, n in Counter(p.line_colours).items():
                out.setdefault(f"{name} line", set()).add(n)
        return out

    def subtotals(self) -> list[int]:
        """Lines per colour and per style, shapes per fill, in each panel ("12 black", "6 solid
        and 1 dashed", "filled in 10 white")."""
        return [n for p in self.panels for group in (p.line_colours, p.line_styles)
                for n in Counter(group).values()] + [n for p in self.panels for n in p.shape_colours.values()]

    def strings(self) -> set[str]:
        """Every string drawn; a caption may quote only these."""
        out = {self.suptitle, *self.figure_texts}
        for p in self.panels:
            out |= {p.title, p.xlabel, p.ylabel, p.zlabel, *p.texts, *p.legend}
        return {s for s in out if s}


def _tally(p: PanelFacts) -> Counter[str]:
    tally: Counter[str] = Counter({"line": p.lines, "scatter point": p.points, "marker": p.markers})
    tally.update(p.shapes)
    # Bar charts and histograms draw each bar as a rectangle, and captions count them as bars.
    tally["bar"] = p.shapes.get("rectangle", 0)
    tally["text label"], tally["legend item"] = len(p.texts), len(p.legend)
    return +tally  # zero counts are no facts: a mark the tracer cannot see is not "0"


def _total(panels: list[PanelFacts]) -> Counter[str]:
    return sum((_tally(p) for p in panels), Counter())


def _panel(axes: dict[str, Any]) -> PanelFacts:
    kind = {"3d": "3D", "polar": "polar", "colorbar": "colorbar"}.get(axes["kind"], "2D")
    title = next(iter(axes.get("title", {}).values()), "")
    panel = PanelFacts(kind=kind, title=title, view=axes.get("view"), legend=list(axes.get("legend", [])),
                       index=axes.get("index", 0), axis_on=axes.get("axis_on", True),
                       xscale=axes.get("xscale", "linear"), yscale=axes.get("yscale", "linear"))
    if axes.get("axis_on", True):  # with axis("off") neither labels nor ranges are visible
        panel.xlabel, panel.ylabel = axes.get("xlabel", ""), axes.get("ylabel", "")
        panel.zlabel = axes.get("zlabel", "")
        panel.xlim, panel.ylim = _pair(axes.get("xlim")), _pair(axes.get("ylim"))
    return panel


def _union(box: tuple[float, float, float, float] | None, xs: list | None,
           ys: list | None) -> tuple[float, float, float, float] | None:
    if not xs or not ys or None in xs[:2] or None in ys[:2]:
        return box
    if box is None:
        return (xs[0], xs[1], ys[0], ys[1])
    return (min(box[0], xs[0]), max(box[1], xs[1]), min(box[2], ys[0]), max(box[3], ys[1]))


def _drawn(p: PanelFacts) -> bool:
    return bool(p.xlim or p.title or p.lines or p.markers or p.shapes or p.points or p.texts)


def _pair(values: list | None) -> tuple[float, float] | None:
    return (values[0], values[1]) if values and None not in values[:2] else None


_SHAPE_NAMES = {
    "Rectangle": "rectangle", "Circle": "circle", "Ellipse": "ellipse", "Wedge": "wedge",
    "Polygon": "polygon", "RegularPolygon": "regular polygon", "FancyArrowPatch": "arrow",
    "FancyArrow": "arrow", "Arc": "arc", "FancyBboxPatch": "box",
}


def facts_from_trace(trace: dict[str, Any]) -> Facts:
    panels = [_panel(a) for a in trace.get("axes", [])]
    by_index = dict(enumerate(panels))
    facts = Facts(panels=[])
    for ln in trace.get("lines", []):
        panel = by_index.get(ln.get("axes"))
        if panel is None:
            continue
        if ln.get("linestyle") in ("None", "", " ", "none") and ln.get("marker") not in ("None", "", None):
            panel.markers += ln.get("n_points", 0)
        else:
            panel.lines += 1
            panel.line_colours.append(colour_name(ln.get("color")) or "unknown")
            panel.line_styles.append(str(ln.get("linestyle")))
            panel.extent = _union(panel.extent, ln.get("x_range"), ln.get("y_range"))
    for p in trace.get("patches", []):
        panel = by_index.get(p.get("axes"))
        if panel is not None:
            panel.shapes[_SHAPE_NAMES.get(p["kind"], "shape")] += 1
            fill = p.get("facecolor")
            if fill and fill != "none":
                panel.shape_colours[colour_name(fill) or "unknown"] += 1
    for c in trace.get("collections", []):
        panel = by_index.get(c.get("axes"))
        if panel is not None and c["kind"] == "PathCollection":
            panel.points += c.get("count", 0)
    for t in trace.get("texts", []):
        role, text = t["role"], t["text"].strip()
        panel = by_index.get(t.get("axes"))
        if role in ("text", "annotation") and panel is not None and text:
            panel.texts.append(text)
            xy = t.get("xy")
            placed = t.get("coords") == "data" and xy and None not in xy
            panel.text_xy.append((float(xy[0]), float(xy[1])) if placed else None)
        elif role == "suptitle":
            facts.suptitle = text
        elif role == "figure_text" and text:
            facts.figure_texts.append(text)
    facts.panels = [p for p in panels if p.kind != "colorbar" and _drawn(p)]
    facts.drawn = [t["text"] for t in trace.get("texts", []) if t.get("text")]
    facts.numbers = _numbers(trace)
    facts.colours = _colours(trace)
    facts.sequences = _sequences(trace)
    facts.data = data_facts(trace)
    return facts


def _sequences(trace: dict[str, Any]) -> list[tuple[float, ...]]:
    rows: list[Any] = []
    for ax in trace.get("axes", []):
        if ax.get("axis_on", True):
            rows += [ax.get("xlim"), ax.get("ylim"), ax.get("zlim")]
    for ln in trace.get("lines", []):
        rows += ln.get("points") or []
    rows += [t.get("xy") for t in trace.get("texts", [])]
    return [tuple(r) for r in rows if r and all(isinstance(v, (int, float)) for v in r)]


def _flat(value: Any) -> list[float]:
    """The finite numbers in a nested JSON value."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    return []


def _numbers(trace: dict[str, Any]) -> list[float]:
    """Numbers of what was drawn; tick values only where the axis is visible."""
    out: list[float] = []
    for ax in trace.get("axes", []):
        shown = ["xlim", "ylim", "zlim", "xticks", "yticks", "zticks"] if ax.get("axis_on", True) else []
        out += _flat([ax.get(k) for k in ["view", *shown]])
    for ln in trace.get("lines", []):
        out += _flat([ln.get("points"), ln.get("x_range"), ln.get("y_range"), ln.get("n_points")])
    for p in trace.get("patches", []):
        out += _flat(p.get("geometry"))
    for c in trace.get("collections", []):
        out += _flat([c.get("offsets"), c.get("levels"), c.get("clim"), c.get("count")])
    for t in trace.get("texts", []):
        out += _flat([t.get("xy"), t.get("xy_target")])
    return sorted({round(x, 9) for x in out})


def _colours(trace: dict[str, Any]) -> list[str]:
    found = [ln.get("color") for ln in trace.get("lines", [])]
    found += [p.get(k) for p in trace.get("patches", []) for k in ("facecolor", "edgecolor")]
    found += [c for col in trace.get("collections", [])
              for c in col.get("facecolors", []) + col.get("edgecolors", [])]
    found += [t.get("color") for t in trace.get("texts", [])]
    found += [trace.get("figure", {}).get("facecolor")]
    return sorted({c for c in found if c and c != "none"})


def code_numbers(code: str) -> list[float]:
    """Numbers a program states or implies: its literals (either sign), constant expressions,
    and the lengths of the arrays it builds at module level ("13 arrows" from
    `np.r_[0, np.cos(np.linspace(0, 2 * np.pi, 12))]`).

    String literals and the module docstring say nothing here: the docstring is prose about the
    figure, as a caption is.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a NUL byte
        return []
    consts: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for stmt in tree.body:  # module level, in order, so later lines may use earlier names
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            try:
                _bind(stmt.targets[0], stmt.value, consts, sizes)
            except (ArithmeticError, ValueError, TypeError, RecursionError):
                continue  # an untrusted program's odd line yields no fact, never a failure
    numbers: list[float] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and _is_number(node.value):
            numbers += [float(node.value), -float(node.value)]
        elif isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Name, ast.Attribute)):
            try:
                value = _const(node, consts)
            except RecursionError:  # a very long chain of operators is no constant worth quoting
                continue
            if value is not None:
                numbers.append(float(value))
    return numbers + list(consts.values()) + [float(n) for n in sizes.values()]


def code_strings(code: str) -> list[str]:
    """A program's string literals but its docstring (colours passed to calls the trace missed)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    doc = ast.get_docstring(tree, clean=False)
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and n.value != doc]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bind(target: ast.AST, value: ast.AST, consts: dict[str, float], sizes: dict[str, int]) -> None:
    if isinstance(target, ast.Tuple):
        if isinstance(value, ast.Tuple) and len(value.elts) == len(target.elts):
            for t, v in zip(target.elts, value.elts):
                _bind(t, v, consts, sizes)
        elif _call_name(value) == "meshgrid":  # X, Y = np.meshgrid(a, b): each of len(a) * len(b)
            size = _product([_size(a, sizes, consts) for a in value.args])
            for t in target.elts:
                if isinstance(t, ast.Name) and size:
                    sizes[t.id] = size
        return
    if not isinstance(target, ast.Name):
        return
    const = _const(value, consts)
    if const is not None:
        consts[target.id] = float(const)
    size = _size(value, sizes, consts)
    if size:
        sizes[target.id] = size


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    return None


def _product(values: list[int | None]) -> int | None:
    if not values or None in values:
        return None
    out = 1
    for v in values:
        out *= v
    return out


def _size(node: ast.AST, sizes: dict[str, int], consts: dict[str, float]) -> int | None:
    """Elements of a 1-D array expression built from linspace/arange/r_/literals, else None."""
    if isinstance(node, ast.Name):
        return sizes.get(node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        return len(node.elts)
    if isinstance(node, ast.BinOp):
        return _size(node.left, sizes, consts) or _size(node.right, sizes, consts)
    if isinstance(node, ast.UnaryOp):
        return _size(node.operand, sizes, consts)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "r_":
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return _sum([1 if _const(p, consts) is not None else _size(p, sizes, consts) for p in parts])
    name = _call_name(node)
    if name is None:
        return None
    args = node.args
    if name == "linspace":
        n = _const(args[2], consts) if len(args) > 2 else next(
            (_const(k.value, consts) for k in node.keywords if k.arg == "num"), 50)
        return int(n) if n is not None else None
    if name == "arange":
        bounds = [_const(a, consts) for a in args]
        if None in bounds or not bounds:
            return None
        start, stop, step = {1: [0.0, *bounds, 1.0], 2: [*bounds, 1.0]}.get(len(bounds), bounds[:3])
        return max(0, math.ceil((stop - start) / step)) if step else None
    if name in ("ravel", "flatten") and isinstance(node.func, ast.Attribute):
        return _size(node.func.value, sizes, consts)
    if name == "array" and args:
        return _size(args[0], sizes, consts)
    if len(args) == 1 and isinstance(node.func, ast.Attribute):  # np.cos(a): elementwise
        return _size(args[0], sizes, consts)
    return None


def _sum(values: list[int | None]) -> int | None:
    return None if None in values else sum(values)


_PI_NAMES = {"pi"}
_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b if abs(b) <= 8 else None}


def _const(node: ast.AST, env: dict[str, float]) -> float | None:
    """The value of a constant arithmetic expression (literals, π, earlier constants), else None."""
    try:
        if isinstance(node, ast.Constant) and _is_number(node.value):
            return node.value
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr in _PI_NAMES:
            return math.pi
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = _const(node.operand, env)
            return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = _const(node.left, env), _const(node.right, env)
            return None if a is None or b is None else _BINOPS[type(node.op)](a, b)
    except (ArithmeticError, TypeError, ValueError):
        return None
    return None
