"""Captions without a model: what each panel shows, in sentences built only from trace facts.

Per panel: the kind of chart; its axes (labels, ranges, log scales) or that they are hidden; each
curve with its legend label, colour and shape (its trend, its extrema, its peaks) and where named
curves cross; the bars' comparisons; the marks by kind, colour and style; where the labels
stand, and inside which shapes. Every number, quoted string and claim about the data comes from `Facts`, phrased as
`pipelines.grounding` reads it, so the caption is grounded by construction and every claim is
graded; the rng only chooses among phrasings.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from pipelines.data_claims import (SHAPES, Region, Series, contains, corners, crossings, named_regions,
                                  trend_of, turns)
from pipelines.facts import Facts, PanelFacts, colour_name

MAX_QUOTED = 8
_ORDINALS = ("first", "second", "third", "fourth")
MAX_SERIES = len(_ORDINALS)  # curves described one by one; the rest are counted with the marks
MAX_CROSSINGS = 6  # more crossings than this are a tangle, not counted
MAX_PLACED = 6  # labels whose position is given
_TREND_VERBS = {"rising": "rises", "falling": "falls", "oscillating": "oscillates", "decaying": "decays"}
_STYLES = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dotted"}


def _num(x: float) -> str:
    """A value as the grounding check compares it: three significant figures, no exponent."""
    if abs(x) >= 1000:
        return f"{x:.0f}"
    text = f"{x:.3g}"
    text = f"{float(text):f}".rstrip("0").rstrip(".") if "e" in text else text
    return "0" if text == "-0" else text  # a rounding residue (-1e-15) has no sign worth saying


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s" if not word.endswith("s") else f"{n} {word}"


def _q(text: str) -> str:
    """A drawn string quoted as a reader quotes it, on one line: a line break is layout, and the
    grounding check reads a quotation only up to the end of a line."""
    return "'" + " ".join(text.split()) + "'"


def _quoted(strings: list[str]) -> str:
    return ", ".join(map(_q, strings))


def _strings(strings: list[str], few: str, noun: str, where: str) -> str:
    """`few` with every string quoted; past MAX_QUOTED, how many there are (a count the facts
    hold, unlike "and 14 more") and the first of them."""
    if len(strings) <= MAX_QUOTED:
        return few.format(_quoted(strings))
    return f"{len(strings)} {noun}s {where}, among them {_quoted(strings[:MAX_QUOTED])}."


def _colours(colours: list[str]) -> str:
    counts = Counter(colours)
    return ", ".join(name if n == 1 else f"{n} {name}" for name, n in counts.most_common())


def _chart(p: PanelFacts, series: list[Series], bars: int) -> str:
    """What kind of chart a panel is (no claim: the marks' counts below say it checkably)."""
    if p.kind == "3D":
        return "a 3D plot"
    if p.kind == "polar":
        return "a polar plot"
    if bars:
        return "a bar chart"
    if p.shapes.get("wedge"):
        return "a pie chart"
    if p.shapes.get("rectangle", 0) >= 5 and p.axis_on:
        return "a histogram"
    if series:
        return "a line plot" + (" with scattered points" if p.points else "")
    if p.points:
        return "a scatter plot"
    # Hidden axes with an extent are said with that extent (_frame), not twice.
    return "a diagram drawn without axes" if not (p.axis_on or p.extent) else "a diagram"


def _frame(p: PanelFacts, rng: np.random.Generator) -> list[str]:
    parts = []
    if p.title:
        parts.append(str(rng.choice([f"It is titled {_q(p.title)}.", f"Its title reads {_q(p.title)}."])))
    for axis, label, lim, scale in (("x", p.xlabel, p.xlim, p.xscale), ("y", p.ylabel, p.ylim, p.yscale)):
        if p.kind == "polar" or not (label or lim):
            continue
        named = f"The {axis}-axis" + (f", labelled {_q(label)}," if label else "")
        span = f" spans {_num(lim[0])} to {_num(lim[1])}" if lim else ""
        scaled = " on a logarithmic scale" if scale == "log" else ""
        if span or label:
            parts.append(f"{named}{span or ' is shown'}{scaled}.".replace(",.", "."))
    if p.zlabel:
        parts.append(f"The z-axis is labelled {_q(p.zlabel)}.")
    if p.view:
        parts.append(
            f"The 3D view is set at elevation {_num(p.view['elev'])}° and azimuth {_num(p.view['azim'])}°."
        )
    if not p.axis_on and p.kind != "3D" and p.extent:
        x0, x1, y0, y1 = p.extent
        parts.append(f"Its axes are hidden; the lines span x from {_num(x0)} to {_num(x1)} and y from "
                     f"{_num(y0)} to {_num(y1)}.")
    return parts


def _curve(s: Series, i: int, legend: list[str]) -> str:
    """One curve: who it is, its colour, its shape, where it peaks and dips."""
    y, x = np.asarray(s.y, dtype=float), np.asarray(s.x, dtype=float)
    name = f"The curve '{s.label}'" if _named(s, legend) else f"The {_ORDINALS[i]} curve"
    colour = colour_name(s.colour)
    drawn = f"{name}, drawn in {colour}," if colour else name
    shape = [_TREND_VERBS[t] for t in ("rising", "falling", "oscillating", "decaying") if t in trend_of(y)]
    hi, lo = int(np.argmax(y)), int(np.argmin(y))
    said = f"{drawn} {' and '.join(shape)}," if shape else f"{drawn} runs from x = {_num(x[0])} to x = {_num(x[-1])},"
    text = (f"{said} reaching a maximum of {_num(y[hi])} at x = {_num(x[hi])} and a minimum of "
            f"{_num(y[lo])} at x = {_num(x[lo])}")
    peaks = len(turns(y)[0])
    if "oscillating" in trend_of(y) and peaks:
        text += f", with {_plural(peaks, 'peak')}"
    return text + "."


def _named(s: Series, legend: list[str]) -> bool:
    """A curve is named by its label only where the legend draws it: a label no legend shows is
    not in the image."""
    return s.label in legend and "'" not in s.label and "\n" not in s.label


def _intersections(series: list[Series], legend: list[str]) -> list[str]:
    """Where two named curves cross: the point when once, how often when a few times."""
    named = [s for s in series if _named(s, legend)]
    parts = []
    for i, a in enumerate(named):
        for b in named[i + 1:]:
            found = crossings(a, b) or []
            if len(found) == 1:
                (x, y), = found
                parts.append(f"'{a.label}' and '{b.label}' cross at ({_num(x)}, {_num(y)}).")
            elif 1 < len(found) <= MAX_CROSSINGS:
                parts.append(f"'{a.label}' and '{b.label}' cross {len(found)} times.")
    return parts


def _series(p: PanelFacts, facts: Facts) -> list[Series]:
    return [s for s in facts.data.series if s.panel == p.index and s.colour is not None]


def _bars(p: PanelFacts, facts: Facts) -> list[str]:
    bars = [b for b in facts.data.bars if b.panel == p.index]
    if len(bars) < 2:
        return []
    tallest, shortest = max(bars, key=lambda b: b.value), min(bars, key=lambda b: b.value)
    labels = [b.label for b in bars]
    if labels.count(tallest.label) > 1 or labels.count(shortest.label) > 1:
        return []
    parts = [f"Of its {len(bars)} bars, the tallest bar is '{tallest.label}' and the shortest bar is "
             f"'{shortest.label}'; the bars have a maximum of {_num(tallest.value)} and a minimum of "
             f"{_num(shortest.value)}."]
    shape = trend_of(np.asarray([b.value for b in bars], dtype=float)) & {"rising", "falling"}
    if shape:
        parts.append(f"From '{bars[0].label}' to '{bars[-1].label}' the heights are {shape.pop()}.")
    return parts


def _marks(p: PanelFacts, rng: np.random.Generator) -> list[str]:
    items = []
    if p.lines:
        styles = Counter(_STYLES.get(s, s) for s in p.line_styles if _STYLES.get(s))
        styled = " and ".join(f"{n} {s}" for s, n in styles.most_common()) if len(styles) > 1 else ""
        items.append(f"{_plural(p.lines, 'line')} ({_colours(p.line_colours)})"
                     + (f", of which {styled}" if styled else ""))
    if p.points:
        items.append(_plural(p.points, "scatter point"))
    if p.markers:
        items.append(_plural(p.markers, "marker"))
    items += [_plural(n, shape) for shape, n in sorted(p.shapes.items())]
    if not items:
        return []
    verb = str(rng.choice(["It draws", "The panel contains", "Drawn on it are"]))
    parts = [f"{verb} {'; '.join(items)}."]
    if p.shape_colours and sum(p.shapes.values()) > 0:
        parts.append(f"The shapes are filled in {_colours(list(p.shape_colours.elements()))}.")
    return parts


_CORNERS = {3: "triangle", 4: "quadrilateral", 5: "pentagon", 6: "hexagon"}


def _shape_word(region: Region) -> str:
    word = SHAPES[region.kind]
    return _CORNERS.get(corners(region), word) if word == "polygon" else word


def _insides(p: PanelFacts, facts: Facts) -> list[str]:
    """Which labels stand inside a drawn shape ("'O' lies inside the circle")."""
    data, said = facts.data, []
    for text in p.texts[:MAX_QUOTED]:
        spot = data.spots.get(text)
        if spot is None or spot.panel != p.index or "'" in text or "\n" in text:
            continue
        inside = [r for r in data.regions if contains(r, spot)]
        if inside:
            word = _shape_word(inside[0])
            one = len(named_regions(word, data, p.index)) == 1  # "the circle", or "a square" of many
            said.append(f"'{text}' lies inside {'the' if one else 'a'} {word}")
    return [f"{'; '.join(said[:MAX_PLACED])}."] if said else []


def _words(p: PanelFacts, facts: Facts) -> list[str]:
    parts = []
    if p.legend:
        parts.append(_strings(p.legend, "The legend lists {}.", "legend item", "are listed"))
    if p.texts:
        parts.append(_strings(p.texts, "Text labels placed in the plot: {}.", "text label",
                              "are placed in the plot"))
        # A label with a prime ("A'") cannot be quoted unambiguously; it is not placed.
        placed = [(t, xy) for t, xy in zip(p.texts, p.text_xy) if xy is not None and "'" not in t][:MAX_PLACED]
        if placed and len(p.texts) <= MAX_QUOTED:
            where = "; ".join(f"{_q(t)} at ({_num(xy[0])}, {_num(xy[1])})" for t, xy in placed)
            parts.append(f"They stand at these data coordinates: {where}.")
        parts += _insides(p, facts)
    return parts


def _panel(p: PanelFacts, facts: Facts, rng: np.random.Generator) -> list[str]:
    series = _series(p, facts)
    bars = [b for b in facts.data.bars if b.panel == p.index]
    body = [*_frame(p, rng), *(_curve(s, i, p.legend) for i, s in enumerate(series[:MAX_SERIES])),
            *_intersections(series[:MAX_SERIES], p.legend),
            *_bars(p, facts), *_marks(p, rng), *_words(p, facts)]
    return [f"It is {_chart(p, series, len(bars))}.", *body] if body else ["It is empty."]


def describe(facts: Facts, rng: np.random.Generator) -> str:
    panels = facts.panels
    kinds = Counter(p.kind for p in panels)
    if not panels:
        sentences = ["A figure with no plotted panels."]
    elif len(panels) == 1:
        head = str(rng.choice(["A figure with a single {k} panel.", "A single {k} plot.", "One {k} panel."]))
        sentences = [head.format(k=panels[0].kind)]
    else:
        described = ", ".join(f"{n} {k}" for k, n in kinds.items())
        sentences = [f"A figure with {len(panels)} panels ({described})."]
    if facts.suptitle:
        sentences.append(f"The overall title is {_q(facts.suptitle)}.")
    for i, p in enumerate(panels):
        if len(panels) > 1:
            sentences.append(f"Panel {i + 1} ({p.kind}):")
        sentences += _panel(p, facts, rng)
    if facts.figure_texts:
        sentences.append(_strings(facts.figure_texts, "Figure text: {}.", "figure text",
                                  "stand outside the panels"))
    return " ".join(sentences)
