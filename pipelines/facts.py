"""Facts a caption may state, read from a program's execution trace (paper §3.2, ξ(c)).

The trace records what was actually drawn, so a caption built from these facts cannot claim a
count, label or range the image does not have.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from matplotlib import colors as mcolors

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
    markers: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    points: int = 0
    texts: list[str] = field(default_factory=list)
    legend: list[str] = field(default_factory=list)


@dataclass
class Facts:
    panels: list[PanelFacts]
    suptitle: str = ""
    figure_texts: list[str] = field(default_factory=list)

    def strings(self) -> set[str]:
        """Every string drawn; a caption may quote only these."""
        out = {self.suptitle, *self.figure_texts}
        for p in self.panels:
            out |= {p.title, p.xlabel, p.ylabel, p.zlabel, *p.texts, *p.legend}
        return {s for s in out if s}


def _panel(axes: dict[str, Any]) -> PanelFacts:
    kind = {"3d": "3D", "polar": "polar", "colorbar": "colorbar"}.get(axes["kind"], "2D")
    title = next(iter(axes.get("title", {}).values()), "")
    panel = PanelFacts(kind=kind, title=title, view=axes.get("view"), legend=list(axes.get("legend", [])))
    if axes.get("axis_on", True):  # with axis("off") neither labels nor ranges are visible
        panel.xlabel, panel.ylabel = axes.get("xlabel", ""), axes.get("ylabel", "")
        panel.zlabel = axes.get("zlabel", "")
        panel.xlim, panel.ylim = _pair(axes.get("xlim")), _pair(axes.get("ylim"))
    return panel


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
    for p in trace.get("patches", []):
        panel = by_index.get(p.get("axes"))
        if panel is not None:
            panel.shapes[_SHAPE_NAMES.get(p["kind"], "shape")] += 1
    for c in trace.get("collections", []):
        panel = by_index.get(c.get("axes"))
        if panel is not None and c["kind"] == "PathCollection":
            panel.points += c.get("count", 0)
    for t in trace.get("texts", []):
        role, text = t["role"], t["text"].strip()
        panel = by_index.get(t.get("axes"))
        if role in ("text", "annotation") and panel is not None and text:
            panel.texts.append(text)
        elif role == "suptitle":
            facts.suptitle = text
        elif role == "figure_text" and text:
            facts.figure_texts.append(text)
    facts.panels = [p for p in panels if p.kind != "colorbar" and _drawn(p)]
    return facts
