"""The execution tracer: what a rendered figure actually drew (paper §3.2, ξ(c)).

Walks the figure's artists after rendering and records texts, lines, patches, collections,
images and axes as plain JSON. Pixel coordinates are in the saved image: origin top-left,
y downwards. The result is bounded: long arrays are sampled (counts kept), long lists cut,
and if it is still too large the arrays go first, then the tails of the lists.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

MAX_POINTS = 16
#: a 2D line's denser sample, its highest and lowest vertex included: what claims about its
#: shape (extrema, trends, peaks) are checked against
PROFILE_POINTS = 128
MAX_ITEMS = {"texts": 400, "lines": 200, "patches": 300, "collections": 100, "images": 20,
             "axes": 40}
TICK_ROLES = ("xtick", "ytick", "ztick")

ToPixels = Callable[[float, float], tuple[float, float]]


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return float(f"{v:.6g}") if math.isfinite(v) else None


def _nums(values: Any) -> list:
    return [_num(v) for v in np.asarray(values, dtype=float).ravel()]


def _color(c: Any) -> str | None:
    try:
        rgba = mcolors.to_rgba(c)
    except (ValueError, TypeError):
        return None
    return "none" if rgba[3] == 0 else mcolors.to_hex(rgba, keep_alpha=rgba[3] < 1)


def _colors(values: Any, limit: int = 8) -> list:
    """The distinct colours of a collection, in first-seen order."""
    seen: list[str] = []
    for c in np.atleast_2d(np.asarray(values, dtype=float))[:1000]:
        if len(c) in (3, 4):
            hexc = _color(tuple(c))
            if hexc not in seen:
                seen.append(hexc)
        if len(seen) >= limit:
            break
    return seen


def _sample(points: np.ndarray) -> list:
    """At most MAX_POINTS rows, evenly spaced, first and last included."""
    if len(points) > MAX_POINTS:
        idx = np.unique(np.linspace(0, len(points) - 1, MAX_POINTS).round().astype(int))
        points = points[idx]
    return [[_num(v) for v in row] for row in np.atleast_2d(points)] if len(points) else []


def _profile(points: np.ndarray) -> list | None:
    """Up to PROFILE_POINTS rows of a long 2D line, evenly spaced, with its extreme rows."""
    if len(points) <= MAX_POINTS or points.ndim != 2 or points.shape[1] != 2:
        return None
    y = points[:, 1]
    if not np.isfinite(y).any():
        return None
    idx = np.linspace(0, len(points) - 1, PROFILE_POINTS).round().astype(int)
    idx = np.unique(np.r_[idx, np.nanargmax(np.where(np.isfinite(y), y, np.nan)),
                          np.nanargmin(np.where(np.isfinite(y), y, np.nan))])
    return [[_num(v) for v in row] for row in points[idx]]


def _range(values: np.ndarray) -> list | None:
    finite = values[np.isfinite(values)]
    return [_num(finite.min()), _num(finite.max())] if finite.size else None


class Tracer:
    def __init__(self, fig: Figure, to_px: ToPixels) -> None:
        self.fig = fig
        self.to_px = to_px
        self.renderer = fig.canvas.get_renderer()
        self.axes_index: dict[int, int] = {}
        self.seen: set[int] = set()
        self.out: dict[str, list] = {k: [] for k in MAX_ITEMS}

    # -- coordinates -------------------------------------------------------------------
    def bbox_px(self, artist: Any, extent: Callable | None = None) -> list | None:
        try:
            bb = (extent or artist.get_window_extent)(self.renderer)
        except Exception:
            return None
        x0, y1 = self.to_px(bb.x0, bb.y0)
        x1, y0 = self.to_px(bb.x1, bb.y1)
        vals = [_num(v) for v in (x0, y0, x1, y1)]
        return None if None in vals else vals

    def anchor_px(self, t: Any) -> list | None:
        """Where the text is anchored (its ha/va point), in image pixels."""
        if getattr(t, "_z", None) is not None:
            return None  # a 3D text's anchor is projected only while drawing (see _text_extent)
        try:
            x, y = t.get_transform().transform(t.get_unitless_position())
        except Exception:
            return None
        px = [_num(v) for v in self.to_px(x, y)]
        return None if None in px else px

    def ax_id(self, artist: Any) -> int | None:
        ax = getattr(artist, "axes", None)
        return self.axes_index.get(id(ax)) if ax is not None else None

    def add(self, kind: str, item: dict) -> None:
        if len(self.out[kind]) < MAX_ITEMS[kind]:
            self.out[kind].append(item)
        else:
            self.out.setdefault("_dropped", []).append(kind)

    def common(self, artist: Any) -> dict:
        return {"axes": self.ax_id(artist), "zorder": _num(artist.get_zorder()),
                "label": _label(artist)}

    def guard(self, fn: Callable[[Any], None], artist: Any) -> None:
        """One odd artist must not cost the whole trace: record that it could not be read."""
        try:
            fn(artist)
        except Exception as exc:  # artists are program-controlled objects
            self.out.setdefault("_errors", []).append(f"{type(artist).__name__}: {exc}"[:200])

    # -- artists -------------------------------------------------------------------------
    def text(self, t: Any, role: str, ax: Axes | None = None) -> None:
        s = t.get_text()
        if not s or not t.get_visible() or id(t) in self.seen:
            return
        self.seen.add(id(t))
        item = {"text": _cut(s), "role": role,
                "axes": self.axes_index.get(id(ax)) if ax is not None else self.ax_id(t),
                "fontsize": _num(t.get_fontsize()), "color": _color(t.get_color()),
                "ha": t.get_horizontalalignment(), "va": t.get_verticalalignment(),
                "rotation": _num(t.get_rotation()), "zorder": _num(t.get_zorder()),
                # An annotation's own extent includes its arrow; overlap checks want the text.
                "bbox_px": self.bbox_px(t, lambda r: _text_extent(t, r))}
        item["xy_px"] = self.anchor_px(t)
        if role in ("text", "annotation"):
            x, y = t.get_position()
            item["xy"] = [_num(x), _num(y)]
            item["coords"] = "data" if t.get_transform() == getattr(t.axes, "transData", None) else "other"
            if role == "annotation":
                item["xy_target"] = [_num(v) for v in t.xy]
                item["arrow"] = t.arrow_patch is not None
        self.add("texts", item)

    def line(self, ln: Any) -> None:
        if not ln.get_visible():
            return
        verts = getattr(ln, "_verts3d", None)
        if verts is not None:
            pts = np.column_stack([np.asarray(v, dtype=float).ravel() for v in verts])
        else:
            pts = np.asarray(ln.get_xydata(), dtype=float)
        item = {**self.common(ln), "n_points": int(len(pts)), "points": _sample(pts),
                "x_range": _range(pts[:, 0]) if len(pts) else None,
                "y_range": _range(pts[:, 1]) if len(pts) else None,
                "color": _color(ln.get_color()), "linestyle": ln.get_linestyle(),
                "linewidth": _num(ln.get_linewidth()), "marker": str(ln.get_marker())}
        if (profile := _profile(pts)) is not None:
            item["profile"] = profile
        self.add("lines", item)

    def patch(self, p: Any) -> None:
        if not p.get_visible():
            return
        item = {**self.common(p), "kind": type(p).__name__, "geometry": _geometry(p),
                "facecolor": _color(p.get_facecolor()), "edgecolor": _color(p.get_edgecolor()),
                "linewidth": _num(p.get_linewidth()), "hatch": p.get_hatch(),
                "bbox_px": self.bbox_px(p)}
        self.add("patches", item)

    def collection(self, c: Any) -> None:
        if not c.get_visible():
            return
        offsets = np.asarray(c.get_offsets(), dtype=float)
        offsets = offsets if offsets.ndim == 2 and len(offsets) > 1 else np.empty((0, 2))
        item = {**self.common(c), "kind": type(c).__name__,
                "count": int(len(offsets) or len(c.get_paths())),
                # Line collections (3D quiver, segments) have no marker sizes.
                "offsets": _sample(offsets),
                "sizes": _nums(np.asarray(getattr(c, "get_sizes", list)())[:MAX_POINTS]),
                "facecolors": _colors(c.get_facecolor()), "edgecolors": _colors(c.get_edgecolor())}
        if c.get_array() is not None:
            item["cmap"] = c.get_cmap().name
            item["clim"] = [_num(v) for v in c.get_clim()]
        levels = getattr(c, "levels", None)
        if levels is not None:
            item["levels"] = _nums(np.asarray(levels)[:32])
        self.add("collections", item)

    def image(self, im: Any) -> None:
        arr = im.get_array()
        self.add("images", {**self.common(im), "kind": type(im).__name__,
                            "shape": list(np.shape(arr)) if arr is not None else None,
                            "extent": [_num(v) for v in im.get_extent()],
                            "cmap": im.get_cmap().name, "clim": [_num(v) for v in im.get_clim()]})

    def axes(self, ax: Axes) -> None:
        idx = self.axes_index[id(ax)]
        name = getattr(ax, "name", "rectilinear")
        item: dict[str, Any] = {
            "index": idx, "kind": "colorbar" if hasattr(ax, "_colorbar") else name,
            "visible": ax.get_visible(), "axis_on": bool(ax.axison), "bbox_px": self.bbox_px(ax),
            "xlim": [_num(v) for v in ax.get_xlim()], "ylim": [_num(v) for v in ax.get_ylim()],
            "xscale": ax.get_xscale(), "yscale": ax.get_yscale(),
            "xlabel": _cut(ax.get_xlabel()), "ylabel": _cut(ax.get_ylabel()),
            "title": {k: _cut(ax.get_title(k)) for k in ("left", "center", "right") if ax.get_title(k)},
            **_ticks(ax.xaxis, "x"), **_ticks(ax.yaxis, "y"),
            "aspect": ax.get_aspect() if isinstance(ax.get_aspect(), str) else _num(ax.get_aspect()),
            "zorder": _num(ax.get_zorder()),
            "legend": _legend_entries(ax.get_legend()),
        }
        if name == "3d":
            item.update({"zlim": [_num(v) for v in ax.get_zlim()], "zlabel": _cut(ax.get_zlabel()),
                         "zscale": ax.get_zscale(), **_ticks(ax.zaxis, "z"),
                         "view": {"elev": _num(ax.elev), "azim": _num(ax.azim),
                                  "roll": _num(getattr(ax, "roll", 0))}})
        self.add("axes", item)

    def walk_axes(self, ax: Axes) -> None:
        self.axes(ax)
        if not ax.get_visible():
            return
        for t in (ax.title, ax._left_title, ax._right_title):
            self.text(t, "title", ax)
        if ax.axison:  # `axis("off")` hides labels and ticks, which still exist as objects
            self.axis_texts(ax)
        for t in ax.texts:
            self.text(t, "annotation" if hasattr(t, "xy") else "text")
        for group, fn in ((ax.lines, self.line), (ax.patches, self.patch),
                          (ax.collections, self.collection), (ax.images, self.image)):
            for artist in group:
                self.guard(fn, artist)
        legend = ax.get_legend()
        if legend is not None:
            self.legend(legend)

    def axis_texts(self, ax: Axes) -> None:
        for role in ("xlabel", "ylabel", "zlabel"):
            axis = getattr(ax, role[0] + "axis", None)
            if axis is not None:
                self.text(axis.label, role, ax)
        for axis_name in ("xaxis", "yaxis", "zaxis"):
            axis = getattr(ax, axis_name, None)
            for tick in _drawn_ticks(axis) if axis is not None else []:
                for t in (tick.label1, tick.label2):
                    self.text(t, axis_name[0] + "tick", ax)
        if getattr(ax, "name", "") == "3d":
            # mplot3d places tick labels while drawing; their extents read back afterwards are
            # in unprojected coordinates, so a box would be a false claim.
            for item in self.out["texts"]:
                if item["role"] in TICK_ROLES and item["axes"] == self.axes_index[id(ax)]:
                    item["bbox_px"] = None

    def legend(self, legend: Any) -> None:
        if legend.get_title().get_text():
            self.text(legend.get_title(), "legend_title")
        for t in legend.get_texts():
            self.text(t, "legend")

    def run(self) -> dict:
        fig = self.fig
        self.axes_index = {id(ax): i for i, ax in enumerate(fig.axes)}
        for ax in fig.axes:
            self.guard(self.walk_axes, ax)
        suptitle = getattr(fig, "_suptitle", None)
        if suptitle is not None:
            self.text(suptitle, "suptitle")
        for t in fig.texts:
            self.text(t, "figure_text")
        for legend in fig.legends:
            self.legend(legend)
        for p in fig.patches:
            self.guard(self.patch, p)
        for ln in fig.lines:
            self.guard(self.line, ln)
        return self.out


def _text_extent(t: Text, renderer: Any) -> Any:
    """A 3D text is placed only while drawn; read back, it sits at its raw data x and y."""
    z = getattr(t, "_z", None)
    if z is None or getattr(t.axes, "M", None) is None:
        return Text.get_window_extent(t, renderer)
    from matplotlib import cbook
    from mpl_toolkits.mplot3d import proj3d

    x, y, _ = proj3d.proj_transform(t._x, t._y, z, t.axes.M)
    with cbook._setattr_cm(t, _x=x, _y=y):
        return Text.get_window_extent(t, renderer)


def _drawn_ticks(axis: Any) -> list:
    """The ticks inside the view, i.e. those actually drawn (get_ticklabels() includes more)."""
    try:
        return list(axis._update_ticks())
    except Exception:  # private API: fall back to every major tick
        return list(axis.get_major_ticks())


def _ticks(axis: Any, name: str) -> dict:
    ticks = _drawn_ticks(axis)[:40]
    return {f"{name}ticks": [_num(t.get_loc()) for t in ticks],
            f"{name}ticklabels": [_cut(t.label1.get_text()) for t in ticks]}


def _label(artist: Any) -> str | None:
    label = artist.get_label()
    return None if not label or label.startswith("_") else str(label)[:200]


def _legend_entries(legend: Any) -> list[str]:
    return [_cut(t.get_text()) for t in legend.get_texts()[:100]] if legend is not None else []


def _cut(text: str, limit: int = 500) -> str:
    """Every string a program controls is cut, so no one of them can outgrow the trace."""
    return str(text)[:limit]


def _geometry(p: Any) -> dict:
    """The parameters that define the common patch kinds, in data coordinates."""
    kind = type(p).__name__
    if kind in ("Rectangle", "FancyBboxPatch"):
        x, y = p.get_xy() if kind == "Rectangle" else (p.get_x(), p.get_y())
        geo = {"xy": [_num(x), _num(y)], "width": _num(p.get_width()), "height": _num(p.get_height())}
        if kind == "Rectangle":
            geo["angle"] = _num(p.get_angle())
        return geo
    if kind == "Circle":
        return {"center": _nums(p.get_center()), "radius": _num(p.get_radius())}
    if kind in ("Ellipse", "Arc"):
        geo = {"center": _nums(p.get_center()), "width": _num(p.get_width()),
               "height": _num(p.get_height()), "angle": _num(p.get_angle())}
        if kind == "Arc":
            geo.update(theta1=_num(p.theta1), theta2=_num(p.theta2))
        return geo
    if kind == "Wedge":
        return {"center": _nums(p.center), "r": _num(p.r), "theta1": _num(p.theta1),
                "theta2": _num(p.theta2), "width": _num(p.width)}
    if kind == "RegularPolygon":
        return {"center": _nums(p.xy), "numvertices": int(p.numvertices),
                "radius": _num(p.radius), "orientation": _num(p.orientation)}
    if kind == "Polygon":
        xy = np.asarray(p.get_xy(), dtype=float)
        return {"n_vertices": int(len(xy)), "vertices": _sample(xy)}
    if kind == "FancyArrowPatch" and getattr(p, "_posA_posB", None):
        a, b = p._posA_posB
        return {"start": _nums(a), "end": _nums(b)}
    verts = np.asarray(p.get_path().vertices, dtype=float)
    return {"n_vertices": int(len(verts))}


def _summary(out: dict) -> dict:
    texts = [t for t in out["texts"] if t["role"] not in TICK_ROLES]
    return {
        "texts": len(texts), "tick_labels": len(out["texts"]) - len(texts),
        "lines": len(out["lines"]), "patches": len(out["patches"]),
        "collections": len(out["collections"]), "images": len(out["images"]),
        "axes": len(out["axes"]),
        "text_strings": [t["text"] for t in texts][:100],
        "legend_entries": [e for ax in out["axes"] for e in ax["legend"]][:50],
        "titles": [t["text"] for t in texts if t["role"] in ("title", "suptitle")][:20],
    }


def _shrink(trace: dict, max_bytes: int) -> dict:
    """Drops detail until the JSON fits: point samples first, then the tails of the lists."""
    if len(json.dumps(trace)) <= max_bytes:
        return trace
    trace["truncated"] = True
    for item in trace["lines"] + trace["collections"] + trace["patches"]:
        item.pop("points", None), item.pop("offsets", None), item.pop("profile", None)
        item.get("geometry", {}).pop("vertices", None)
    for _ in range(20):
        if len(json.dumps(trace)) <= max_bytes:
            return trace
        for kind in ("texts", "lines", "patches", "collections", "images", "axes"):
            trace[kind] = trace[kind][: len(trace[kind]) // 2]
    fallback = {"summary": trace["summary"], "truncated": True}
    if len(json.dumps(fallback)) <= max_bytes:
        return fallback
    counts = {k: v for k, v in trace["summary"].items() if isinstance(v, int)}
    return {"summary": counts, "truncated": True}


def trace_figure(fig: Figure, to_px: ToPixels, image: dict, max_bytes: int) -> dict:
    out = Tracer(fig, to_px).run()
    trace: dict[str, Any] = {
        "version": 1, "image": image,
        "figure": {"size_inches": _nums(fig.get_size_inches()), "facecolor": _color(fig.get_facecolor())},
        **{k: out[k] for k in MAX_ITEMS},
        "summary": _summary(out),
        "truncated": bool(out.get("_dropped")),
    }
    if out.get("_errors"):
        trace["errors"] = out["_errors"][:20]
    if out.get("_dropped"):
        trace["summary"]["dropped"] = {k: out["_dropped"].count(k) for k in set(out["_dropped"])}
    return _shrink(trace, max_bytes)
