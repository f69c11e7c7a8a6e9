"""Captions without a model: sentences built only from trace facts, phrased with variety.

Every number and quoted string in these captions comes from `Facts`, so the caption is grounded
by construction; the rng only chooses among phrasings and orderings.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from pipelines.facts import Facts, PanelFacts

MAX_QUOTED = 8


def _num(x: float) -> str:
    return f"{x:.3g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s" if not word.endswith("s") else f"{n} {word}"


def _quoted(strings: list[str]) -> str:
    return ", ".join(f"'{s}'" for s in strings)


def _strings(strings: list[str], few: str, noun: str, where: str) -> str:
    """`few` with every string quoted; past MAX_QUOTED, how many there are (a count the facts
    hold, unlike "and 14 more") and the first of them."""
    if len(strings) <= MAX_QUOTED:
        return few.format(_quoted(strings))
    return f"{len(strings)} {noun}s {where}, among them {_quoted(strings[:MAX_QUOTED])}."


def _colours(colours: list[str]) -> str:
    counts = Counter(colours)
    return ", ".join(name if n == 1 else f"{n} {name}" for name, n in counts.most_common())


def _frame(p: PanelFacts, rng: np.random.Generator) -> list[str]:
    parts = []
    if p.title:
        parts.append(str(rng.choice([f"It is titled '{p.title}'.", f"Its title reads '{p.title}'."])))
    for axis, label, lim in (("x", p.xlabel, p.xlim), ("y", p.ylabel, p.ylim)):
        if p.kind == "polar" or not (label or lim):
            continue
        named = f"The {axis}-axis" + (f", labelled '{label}'," if label else "")
        span = f" spans {_num(lim[0])} to {_num(lim[1])}" if lim else ""
        if span or label:
            parts.append(f"{named}{span or ' is shown'}.".replace(",.", "."))
    if p.zlabel:
        parts.append(f"The z-axis is labelled '{p.zlabel}'.")
    if p.view:
        parts.append(
            f"The 3D view is set at elevation {_num(p.view['elev'])}° and azimuth {_num(p.view['azim'])}°."
        )
    return parts


def _marks(p: PanelFacts, rng: np.random.Generator) -> list[str]:
    items = []
    if p.lines:
        items.append(f"{_plural(p.lines, 'line')} ({_colours(p.line_colours)})")
    if p.points:
        items.append(_plural(p.points, "scatter point"))
    if p.markers:
        items.append(_plural(p.markers, "marker"))
    items += [_plural(n, shape) for shape, n in sorted(p.shapes.items())]
    if not items:
        return []
    verb = str(rng.choice(["It draws", "The panel contains", "Drawn on it are"]))
    return [f"{verb} {', '.join(items)}."]


def _words(p: PanelFacts) -> list[str]:
    parts = []
    if p.legend:
        parts.append(_strings(p.legend, "The legend lists {}.", "legend item", "are listed"))
    if p.texts:
        parts.append(_strings(p.texts, "Text labels placed in the plot: {}.", "text label",
                              "are placed in the plot"))
    return parts


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
        sentences.append(f"The overall title is '{facts.suptitle}'.")
    for i, p in enumerate(panels):
        if len(panels) > 1:
            sentences.append(f"Panel {i + 1} ({p.kind}):")
        body = [*_frame(p, rng), *_marks(p, rng), *_words(p)]
        sentences += body or ["It is empty."]
    if facts.figure_texts:
        sentences.append(_strings(facts.figure_texts, "Figure text: {}.", "figure text",
                                  "stand outside the panels"))
    return " ".join(sentences)
