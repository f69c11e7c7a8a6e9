"""Model-free diversity: rewrite a matplotlib program's AST into a valid, meaningful variant.

`mutate` collects mutation sites (places where a change keeps the program runnable and its
science intact), draws `n_mutations` of them with the caller's generator, applies them and
unparses. Sites are deliberately conservative: numbers move only where they are parameters
(module-level scalar assignments, whitelisted style keywords), never figure indices, subplot
grids, `range`/`linspace` counts or exponents; data lists keep their shape, sign and order;
styles are swapped for valid matplotlib values. Every applied mutation is recorded as
{kind, line, old, new}. The same code and seed always give the same output.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iccgen.errors import IccgenError


class MutationError(IccgenError):
    """The program cannot be mutated (unparsable, nothing safe to change, or a broken rewrite)."""


@dataclass
class Mutated:
    code: str
    mutations: list[dict[str, Any]]


COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
          "tab:pink", "tab:olive", "tab:cyan", "navy", "darkgreen", "crimson", "teal",
          "darkorange", "purple", "steelblue", "firebrick", "seagreen", "goldenrod", "black")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "v", "D", "x", "+", "*", "p", "h", "<", ">", "d")
COLORMAPS = ("viridis", "plasma", "inferno", "magma", "cividis", "coolwarm", "RdBu_r",
             "Spectral", "YlGnBu", "cool", "winter", "terrain", "twilight", "copper")

_COLOR_KW = {"color", "c", "facecolor", "fc", "edgecolor", "ec", "ecolor", "colors",
             "markerfacecolor", "mfc", "markeredgecolor", "mec"}
_LINESTYLE_KW = {"linestyle", "ls", "linestyles"}
_LINESTYLE_NAMES = {"solid", "dashed", "dashdot", "dotted"} | set(LINESTYLES)
_TEXT_CALLS = {"set_title", "set_xlabel", "set_ylabel", "set_zlabel", "title", "xlabel",
               "ylabel", "suptitle"}
_PHYSICAL_CONSTANTS = {"g", "G", "c", "h", "hbar", "e", "k_B", "kB", "N_A", "NA", "R_gas",
                       "eps0", "epsilon0", "mu0", "pi"}


@dataclass(frozen=True)
class _Range:
    lo: float
    hi: float
    integer: bool = False
    calls: frozenset[str] | None = None  # only in these calls (None: any call)


_STYLE_NUMBERS = {
    "linewidth": _Range(0.5, 5.0), "lw": _Range(0.5, 5.0), "linewidths": _Range(0.3, 4.0),
    "markersize": _Range(3, 16), "ms": _Range(3, 16), "fontsize": _Range(7, 18),
    "alpha": _Range(0.15, 1.0), "s": _Range(5, 200), "capsize": _Range(1, 10),
    "startangle": _Range(0, 360), "elev": _Range(10, 70), "azim": _Range(-180, 180),
    "pad": _Range(0, 30), "labelpad": _Range(0, 20), "rotation": _Range(0, 90),
    "bins": _Range(5, 60, integer=True), "levels": _Range(4, 30, integer=True),
    "width": _Range(0.3, 0.95, calls=frozenset({"bar"})),
    "height": _Range(0.3, 0.95, calls=frozenset({"barh"})),
}


#: style keywords whose number changes how a mark looks, never what the figure shows (a view
#: angle, a bin count or a bar width does): recorded as kind "style"
LOOKS = frozenset({"linewidth", "lw", "linewidths", "markersize", "ms", "fontsize", "alpha", "s",
                   "capsize", "pad", "labelpad", "rotation"})


@dataclass
class _Site:
    kind: str
    line: int
    apply: Callable[[np.random.Generator], tuple[Any, Any]]
    anchor: int = 0  # id of the call it rewrites; sites sharing an anchor may conflict
    exclusive: bool = False  # rewrites the whole call: no other site may touch its anchor
    #: the kind it is drawn as, where that differs from the kind it is recorded as ("style"
    #: numbers are drawn among the constants, so a seed gives the programs it always gave)
    pool: str = ""


@dataclass
class _Program:
    tree: ast.Module
    parents: dict[int, ast.AST] = field(default_factory=dict)

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self.parents.get(id(node))


def mutate(code: str, rng: np.random.Generator, n_mutations: int = 3) -> Mutated:
    """Apply up to `n_mutations` mutations drawn with `rng`; raise MutationError if none apply."""
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        raise MutationError(f"the program does not parse (line {e.lineno}: {e.msg})") from None
    prog = _Program(tree, {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)})
    sites = _collect(prog)
    if not sites:
        raise MutationError("no safe mutation site: no parameters, data lists, styles or labels")
    records = []
    for site in _draw(sites, rng, n_mutations):
        try:
            old, new = site.apply(rng)
        except (ValueError, TypeError, AttributeError, IndexError) as e:
            raise MutationError(f"{site.kind} mutation at line {site.line} failed: {e}") from e
        records.append({"kind": site.kind, "line": site.line, "old": old, "new": new})
    _drop_module_docstring(tree)
    out = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    try:
        compile(out, "<mutated>", "exec")
    except SyntaxError as e:
        raise MutationError(f"a rewrite produced invalid code ({e.msg}); mutations: {records}") from e
    return Mutated(out, records)


def _drop_module_docstring(tree: ast.Module) -> None:
    """The parent's docstring describes the parent's figure; after a rewrite it would lie."""
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        del body[0]


def _draw(sites: list[_Site], rng: np.random.Generator, n: int) -> list[_Site]:
    """Pick a kind uniformly, then a site of it, so plentiful kinds (colours) don't crowd out others."""
    left = list(sites)
    chosen: list[_Site] = []
    while left and len(chosen) < n:
        kinds = sorted({s.pool or s.kind for s in left})
        kind = kinds[int(rng.integers(len(kinds)))]
        pool = [s for s in left if (s.pool or s.kind) == kind]
        site = pool[int(rng.integers(len(pool)))]
        chosen.append(site)
        left = [s for s in left if s is not site and not _conflict(site, s)]
    return chosen


def _conflict(a: _Site, b: _Site) -> bool:
    return a.anchor != 0 and a.anchor == b.anchor and (a.exclusive or b.exclusive)


def _collect(prog: _Program) -> list[_Site]:
    sites: list[_Site] = []
    for node in ast.walk(prog.tree):
        if isinstance(node, ast.Assign) and prog.parent(node) is prog.tree:
            sites += _parameter_sites(node) + _data_sites(node)
        elif isinstance(node, ast.Call):
            sites += _call_sites(prog, node)
    return sites + _toggle_sites(prog)


# --- numbers ---------------------------------------------------------------------------------

def _number(node: ast.AST) -> float | int | None:
    """The value of a numeric literal (optionally negated), else None. Booleans are not numbers."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def _literal(value: float | int) -> ast.expr:
    if value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text else len(text.split(".")[1].rstrip("0"))


def _scaled(value: float | int, factor: float) -> float | int:
    """value * factor, rounded like the original (ints stay ints, sign and zero are kept)."""
    if isinstance(value, int):
        if abs(value) <= 10:  # small ints are counts or orders: step by one, never to 0
            step = 1 if factor >= 1 else -1
            moved = value + step * (1 if value >= 0 else -1)
            return moved if moved != 0 and (moved > 0) == (value > 0) else value - step
        return int(round(value * factor))
    return round(value * factor, max(2, _decimals(value)))


def _factor(rng: np.random.Generator, spread: float = 0.3) -> float:
    """A multiplicative change away from 1: in [1 - spread, 1 - spread/4] or [1 + spread/4, 1 + spread]."""
    size = rng.uniform(spread / 4, spread)
    return 1 + size if rng.random() < 0.5 else 1 - size


def _parameter_sites(node: ast.Assign) -> list[_Site]:
    """Module-level `name = 3.2` or `a, b = 1.0, 2.0`: physical parameters of the figure."""
    sites = []
    for name, get, put in _assigned_numbers(node):
        value = _number(get())
        if value is None or value == 0 or name in _PHYSICAL_CONSTANTS:
            continue
        sites.append(_Site("constant", node.lineno, _set_number(name, get, put)))
    return sites


def _assigned_numbers(node: ast.Assign) -> list[tuple[str, Callable, Callable]]:
    """(name, get value node, replace value node) for each name bound by the assignment."""
    if len(node.targets) != 1:
        return []
    target = node.targets[0]
    if isinstance(target, ast.Name):
        return [(target.id, lambda: node.value, lambda v: setattr(node, "value", v))]
    if not (isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)):
        return []
    elts = node.value.elts
    if len(target.elts) != len(elts):
        return []
    return [(t.id, lambda i=i: elts[i], lambda v, i=i: elts.__setitem__(i, v))
            for i, t in enumerate(target.elts) if isinstance(t, ast.Name)]


def _set_number(name: str, get: Callable, put: Callable) -> Callable[[np.random.Generator], tuple]:
    def apply(rng: np.random.Generator) -> tuple:
        old = _number(get())
        new = _scaled(old, _factor(rng))
        put(_literal(new))
        return f"{name}={old}", f"{name}={new}"
    return apply


def _style_number_site(call: ast.Call, kw: ast.keyword) -> _Site | None:
    rule = _STYLE_NUMBERS.get(kw.arg or "")
    value = _number(kw.value)
    if rule is None or not value or (rule.calls and _call_name(call) not in rule.calls):
        return None
    if rule.integer and not isinstance(value, int):
        return None

    def apply(rng: np.random.Generator) -> tuple:
        new = min(rule.hi, max(rule.lo, _scaled(value, _factor(rng, 0.5))))
        if new == value:  # pinned at a bound: move inwards instead
            new = _scaled(value, 0.75 if value >= rule.hi else 1.3)
            new = min(rule.hi, max(rule.lo, new))
        new = int(round(new)) if rule.integer or isinstance(value, int) else round(new, 2)
        kw.value = _literal(new)
        return f"{kw.arg}={value}", f"{kw.arg}={new}"
    looks = kw.arg in LOOKS
    return _Site("style" if looks else "constant", call.lineno, apply, anchor=id(call),
                 pool="constant" if looks else "")


# --- data lists ------------------------------------------------------------------------------

def _data_sites(node: ast.Assign) -> list[_Site]:
    """`x = [..numbers..]`, `A = np.array([..])`, lists of equal-length number tuples, and seeds."""
    value = node.value
    if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
        return []
    if _color_list(value):
        return [_Site("color", node.lineno, _recolor_list(value))]
    if isinstance(value, ast.Call) and _call_name(value) in ("array", "asarray") and value.args:
        value = value.args[0]
    if isinstance(value, ast.Call) and _call_name(value) in ("default_rng", "seed", "RandomState"):
        return _seed_site(value)
    rows = _number_rows(value)
    if rows is None or not any(v != 0 for row in rows for v in row):
        return []
    return [_Site("data", node.lineno, _regenerate(value))]


def _number_rows(node: ast.AST) -> list[list[float | int]] | None:
    """Columns of a flat list (one row) or of a list of equal-length tuples/lists, else None."""
    if not isinstance(node, (ast.List, ast.Tuple)) or len(node.elts) < 2:
        return None
    flat = [_number(e) for e in node.elts]
    if all(v is not None for v in flat):
        return [flat]
    inner = [e.elts for e in node.elts if isinstance(e, (ast.List, ast.Tuple))]
    if len(inner) != len(node.elts) or len({len(r) for r in inner}) != 1:
        return None
    cols = [[_number(r[k]) for r in inner] for k in range(len(inner[0]))]
    return cols if all(v is not None for col in cols for v in col) else None


def _regenerate(node: ast.List | ast.Tuple) -> Callable[[np.random.Generator], tuple]:
    def apply(rng: np.random.Generator) -> tuple:
        old = ast.literal_eval(node)
        flat = isinstance(node.elts[0], ast.Constant | ast.UnaryOp)
        cells = [[e] for e in node.elts] if flat else [list(e.elts) for e in node.elts]
        for k in range(len(cells[0])):
            column = [_number(row[k]) for row in cells]
            for row, v in zip(cells, _perturb(column, rng)):
                row[k] = _literal(v)
        if flat:
            node.elts = [row[0] for row in cells]
        else:
            for e, row in zip(node.elts, cells):
                e.elts = row
        return _jsonable(old), _jsonable(ast.literal_eval(node))
    return apply


def _perturb(column: list[float | int], rng: np.random.Generator) -> list[float | int]:
    """Each value times ~U(0.8, 1.2), keeping zeros, signs, int-ness and a strict order."""
    new = [_scaled(v, rng.uniform(0.8, 1.2)) if not isinstance(v, int) or abs(v) > 10
           else v + int(rng.integers(-1, 2)) * (v != 0) for v in column]
    new = [n if (n > 0) == (v > 0) or v == 0 else v for v, n in zip(column, new)]
    for direction in (1, -1):
        if all(direction * (b - a) > 0 for a, b in zip(column, column[1:])):
            new = sorted(new, reverse=direction < 0)
            if any(direction * (b - a) <= 0 for a, b in zip(new, new[1:])):
                new = list(column)  # rounding collapsed neighbours: keep the measured points
    return new


def _color_list(node: ast.AST) -> bool:
    return (isinstance(node, ast.List) and len(node.elts) >= 2
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) and _is_color(e.value)
                    for e in node.elts))


def _recolor_list(node: ast.List) -> Callable[[np.random.Generator], tuple]:
    """Replace one colour with one the list does not use, so series stay distinguishable."""
    def apply(rng: np.random.Generator) -> tuple:
        old = [e.value for e in node.elts]
        pool = [c for c in COLORS if c not in old]
        k = int(rng.integers(len(old)))
        node.elts[k] = ast.Constant(pool[int(rng.integers(len(pool)))])
        return old, [e.value for e in node.elts]
    return apply


def _seed_site(call: ast.Call) -> list[_Site]:
    if not call.args or not isinstance(_number(call.args[0]), int):
        return []

    def apply(rng: np.random.Generator) -> tuple:
        old = _number(call.args[0])
        new = int(rng.integers(0, 10_000))
        call.args[0] = ast.Constant(new if new != old else new + 1)
        return f"seed={old}", f"seed={call.args[0].value}"
    return [_Site("data", call.lineno, apply)]


def _jsonable(value: Any) -> Any:
    return [_jsonable(v) for v in value] if isinstance(value, (list, tuple)) else value


# --- styles, text, layout in calls ------------------------------------------------------------

def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _call_sites(prog: _Program, call: ast.Call) -> list[_Site]:
    sites = []
    for kw in call.keywords:
        site = _style_number_site(call, kw) or _keyword_style_site(call, kw)
        if site:
            sites.append(site)
    sites += _text_sites(call) + _chart_swap_sites(prog, call)
    return sites


def _keyword_style_site(call: ast.Call, kw: ast.keyword) -> _Site | None:
    if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)):
        return None
    value, name = kw.value.value, kw.arg or ""
    if name in _COLOR_KW and _is_color(value):
        choices, kind = COLORS, "color"
    elif name in _LINESTYLE_KW and value in _LINESTYLE_NAMES:
        choices, kind = LINESTYLES, "linestyle"
    elif name == "marker" and value in MARKERS or name == "fmt" and value in MARKERS:
        choices, kind = MARKERS, "marker"
    elif name == "cmap" and value in _colormaps():
        choices, kind = COLORMAPS, "colormap"
    else:
        return None

    def apply(rng: np.random.Generator) -> tuple:
        pool = [c for c in choices if c != value]
        kw.value = ast.Constant(pool[int(rng.integers(len(pool)))])
        return f"{name}={value}", f"{name}={kw.value.value}"
    return _Site(kind, call.lineno, apply, anchor=id(call))


def _is_color(value: str) -> bool:
    from matplotlib.colors import is_color_like

    return value.lower() not in ("none", "white", "w") and is_color_like(value)


def _colormaps() -> set[str]:
    from matplotlib import colormaps

    return set(colormaps)


def _text_sites(call: ast.Call) -> list[_Site]:
    if _call_name(call) not in _TEXT_CALLS or not call.args:
        return []
    arg = call.args[0]
    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
        return []
    variants = [v for v in _text_variants(arg.value) if v != arg.value]
    if not variants:
        return []

    def apply(rng: np.random.Generator) -> tuple:
        old = arg.value
        arg.value = variants[int(rng.integers(len(variants)))]
        return old, arg.value
    return [_Site("text", call.lineno, apply, anchor=id(call))]


_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the",
                "to", "vs", "with"}


def _text_variants(text: str) -> list[str]:
    """Safe rewordings: title case outside mathtext (single letters are variables and stay),
    and (unit) <-> [unit]."""
    parts = text.split("$")
    if len(parts) % 2 == 0:  # unbalanced mathtext: leave it alone
        return []
    titled = [" ".join(_title_word(w, first=i == 0 and k == 0) for k, w in enumerate(p.split(" ")))
              for i, p in enumerate(parts[::2])]
    out = [_rejoin(parts, titled)]
    if text.endswith(")") and " (" in text and "$" not in text:
        head, unit = text[:-1].rsplit(" (", 1)
        out.append(f"{head} [{unit}]")
    elif text.endswith("]") and " [" in text and "$" not in text:
        head, unit = text[:-1].rsplit(" [", 1)
        out.append(f"{head} ({unit})")
    return out


def _title_word(word: str, first: bool) -> str:
    if len(word) < 2 or not word.isalpha() or not word.islower():
        return word
    return word if word in _SMALL_WORDS and not first else word.capitalize()


def _rejoin(parts: list[str], plain: list[str]) -> str:
    merged = list(parts)
    merged[::2] = plain
    return "$".join(merged)


# --- chart kind swaps -------------------------------------------------------------------------

_BAR_SWAP = {"bar": "barh", "barh": "bar"}
_BAR_KW = {"width": "height", "height": "width", "bottom": "left", "left": "bottom"}
_AXIS_SWAP = {"set_xlabel": "set_ylabel", "set_ylabel": "set_xlabel", "set_xlim": "set_ylim",
              "set_ylim": "set_xlim", "set_xticks": "set_yticks", "set_yticks": "set_xticks",
              "set_xticklabels": "set_yticklabels", "set_yticklabels": "set_xticklabels",
              "xlabel": "ylabel", "ylabel": "xlabel", "xlim": "ylim", "ylim": "xlim"}
_PLOT_TO_SCATTER_KW = {"color", "label", "alpha", "zorder", "marker", "markersize"}
_SCATTER_TO_PLOT_KW = {"color", "label", "alpha", "zorder", "marker", "s"}


def _chart_swap_sites(prog: _Program, call: ast.Call) -> list[_Site]:
    """bar <-> barh and plot <-> scatter, only where the call's result is unused."""
    name = _call_name(call)
    statement = prog.parent(call)
    if not isinstance(statement, ast.Expr) or not isinstance(call.func, ast.Attribute):
        return []
    kws = {k.arg for k in call.keywords}
    if name in _BAR_SWAP and len(call.args) == 2 and None not in kws:
        apply = _swap_bar(prog, call)
    elif name == "plot" and len(call.args) == 2 and kws <= _PLOT_TO_SCATTER_KW:
        apply = _plot_to_scatter(call)
    elif name == "scatter" and len(call.args) == 2 and kws <= _SCATTER_TO_PLOT_KW:
        apply = _scatter_to_plot(call)
    else:
        return []
    return [_Site("chart", call.lineno, apply, anchor=id(call), exclusive=True)]


def _swap_bar(prog: _Program, call: ast.Call) -> Callable[[np.random.Generator], tuple]:
    def apply(rng: np.random.Generator) -> tuple:
        old = call.func.attr
        call.func.attr = _BAR_SWAP[old]
        for kw in call.keywords:
            kw.arg = _BAR_KW.get(kw.arg, kw.arg)
        _swap_axes_of(prog, ast.unparse(call.func.value), horizontal=old == "bar")
        return old, call.func.attr
    return apply


def _swap_axes_of(prog: _Program, receiver: str, horizontal: bool) -> None:
    """Make the axes' labels, limits, ticks and grid follow the bars to the other axis."""
    for node in ast.walk(prog.tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if ast.unparse(node.func.value) != receiver:
            continue
        if node.func.attr in _AXIS_SWAP:
            node.func.attr = _AXIS_SWAP[node.func.attr]
        elif node.func.attr == "grid":
            for kw in node.keywords:
                if kw.arg == "axis" and isinstance(kw.value, ast.Constant) and kw.value.value in "xy":
                    kw.value = ast.Constant({"x": "y", "y": "x"}[kw.value.value])
        elif node.func.attr == "invert_yaxis" and not horizontal:
            # barh lists the first category on top via invert_yaxis; vertical bars must not flip.
            _replace_statement(prog, prog.parent(node), ast.Pass())


def _plot_to_scatter(call: ast.Call) -> Callable[[np.random.Generator], tuple]:
    def apply(rng: np.random.Generator) -> tuple:
        call.func.attr = "scatter"
        for kw in call.keywords:
            if kw.arg == "markersize":
                size = _number(kw.value)
                kw.arg, kw.value = "s", (ast.Constant(round(size ** 2, 1)) if size else kw.value)
        if "s" not in {k.arg for k in call.keywords}:
            call.keywords.append(ast.keyword("s", ast.Constant(12)))
        return "plot", "scatter"
    return apply


def _scatter_to_plot(call: ast.Call) -> Callable[[np.random.Generator], tuple]:
    def apply(rng: np.random.Generator) -> tuple:
        call.func.attr = "plot"
        for kw in call.keywords:
            if kw.arg == "s":
                size = _number(kw.value)
                kw.arg, kw.value = "markersize", ast.Constant(round(math.sqrt(size), 1) if size else 6)
        if "marker" not in {k.arg for k in call.keywords}:
            call.keywords.append(ast.keyword("marker", ast.Constant("o")))
        call.keywords.append(ast.keyword("linestyle", ast.Constant("none")))
        return "scatter", "plot"
    return apply


# --- whole-figure toggles: figsize, grid, legend ----------------------------------------------

def _toggle_sites(prog: _Program) -> list[_Site]:
    sites = []
    for node in ast.walk(prog.tree):
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            if kw.arg == "figsize" and _number_rows(kw.value) is not None:
                sites.append(_Site("figsize", node.lineno, _resize(kw), anchor=id(node)))
        if _call_name(node) in ("grid", "legend") and isinstance(prog.parent(node), ast.Expr):
            sites.append(_Site(_call_name(node), node.lineno, _remove_call(prog, node),
                               anchor=id(node), exclusive=True))
    return sites + _addition_sites(prog, sites)


def _resize(kw: ast.keyword) -> Callable[[np.random.Generator], tuple]:
    def apply(rng: np.random.Generator) -> tuple:
        w, h = (float(v) for v in ast.literal_eval(kw.value))
        area_keep = rng.uniform(0.85, 1.15)
        aspect = (w / h) * _factor(rng, 0.35)
        new_h = round(min(12.0, max(3.0, math.sqrt(w * h * area_keep / aspect))), 1)
        new_w = round(min(14.0, max(3.0, new_h * aspect)), 1)
        kw.value = ast.Tuple([ast.Constant(new_w), ast.Constant(new_h)], ast.Load())
        return [w, h], [new_w, new_h]
    return apply


def _remove_call(prog: _Program, call: ast.Call) -> Callable[[np.random.Generator], tuple]:
    def apply(rng: np.random.Generator) -> tuple:
        text = ast.unparse(call)
        _replace_statement(prog, prog.parent(call), ast.Pass())
        return text, None
    return apply


def _replace_statement(prog: _Program, statement: ast.AST, new: ast.stmt) -> None:
    body = _body_of(prog, statement)
    if body is not None:
        body[body.index(statement)] = new


def _body_of(prog: _Program, statement: ast.AST) -> list | None:
    parent = prog.parent(statement)
    for name in ("body", "orelse", "finalbody"):
        body = getattr(parent, name, None)
        if isinstance(body, list) and any(s is statement for s in body):
            return body
    return None


def _addition_sites(prog: _Program, existing: list[_Site]) -> list[_Site]:
    """Add a grid / legend to an axes that has none, right before the final plt.show()."""
    have = {s.kind for s in existing}
    show = _final_show(prog)
    if show is None:
        return []
    receiver = _main_axes(prog)
    sites = []
    if "grid" not in have and receiver:
        sites.append(_Site("grid", show.lineno, _insert_before(prog, show, f"{receiver}.grid(True, alpha=0.3)")))
    if "legend" not in have and receiver and _has_labels(prog, receiver):
        sites.append(_Site("legend", show.lineno, _insert_before(prog, show, f"{receiver}.legend()")))
    return sites


def _final_show(prog: _Program) -> ast.stmt | None:
    last = prog.tree.body[-1] if prog.tree.body else None
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and _call_name(last.value) == "show":
        return last
    return None


def _main_axes(prog: _Program) -> str | None:
    """The receiver of the first set_title/set_xlabel call whose root name is module-level."""
    module_names = {t.id for s in prog.tree.body if isinstance(s, ast.Assign)
                    for t in ast.walk(s.targets[0]) if isinstance(t, ast.Name)}
    for node in ast.walk(prog.tree):
        if isinstance(node, ast.Call) and _call_name(node) in ("set_title", "set_xlabel"):
            func = node.func
            if isinstance(func, ast.Attribute) and _root_name(func.value) in module_names:
                if not _is_3d_or_polar(prog):
                    return ast.unparse(func.value)
    return None


def _is_3d_or_polar(prog: _Program) -> bool:
    return any(isinstance(n, ast.keyword) and n.arg == "projection" for n in ast.walk(prog.tree))


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _has_labels(prog: _Program, receiver: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and ast.unparse(n.func.value) == receiver
               and any(k.arg == "label" for k in n.keywords) for n in ast.walk(prog.tree))


def _insert_before(prog: _Program, anchor: ast.stmt, source: str) -> Callable[[np.random.Generator], tuple]:
    def apply(rng: np.random.Generator) -> tuple:
        body = prog.tree.body
        body.insert(next(i for i, s in enumerate(body) if s is anchor), ast.parse(source).body[0])
        return None, source
    return apply
