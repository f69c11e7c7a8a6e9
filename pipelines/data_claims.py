"""Claims about the plotted data, checked against the data the trace recorded (paper §3.2).

A number in "a maximum of 1 at x = 1.57" is no free-standing literal: it names a value of the
data, and is right only if the data has it there. This module finds such claims in a caption -
extrema, trends over a range, comparisons of bars, counts of peaks and crossings, positions of
labels ("'A' is left of 'B'", "'O' is inside the circle"), where two curves intersect ("'a' and
'b' cross at x = 2") - and checks each against the series the trace holds (line vertices, bar
heights with their tick labels, where texts are anchored, the shapes' geometry), with tolerances
relative to the panel's axis ranges. A claim that binds to no data is false.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: a value or a place read off a plot is right to within this share of the axis range
VALUE_TOLERANCE = 0.03
#: a turn of a curve counts as a peak or trough when it stands out by this share of its range;
#: a count is right anywhere between the turns that stand out clearly and those a reader may
#: still make out (the late swings of a damped oscillation)
PROMINENCE = 0.1
FAINT_PROMINENCE = 0.02
#: "rising": the curve gains at least this share of its range, and falls back at most ...
NET_CHANGE = 0.3
BACKTRACK = 0.35
#: "left of", "above": by at least this many pixels of the image, anchor to anchor
POSITION_MARGIN_PX = 2.0
#: a line of fewer vertices is a mark (a wire, an arrow, a guide), not a curve of data
MIN_VERTICES = 5
#: "decaying": the swing about the final level shrinks to at most this share over the curve
DECAY = 0.5

NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_NUM = r"[-−]?(?:\d+(?:\.\d+)?)?π(?:\s*/\s*\d+)?|[-−]?\d+(?:\.\d+)?"
_COUNT = _NUM + "|" + "|".join(NUMBER_WORDS)
_VAR = r"(?:[a-zA-Zθφωτ](?:\([a-z]\))?|time|angle)"


@dataclass(frozen=True)
class Series:
    """One drawn curve (or a panel's bars in order), in data coordinates."""

    panel: int
    label: str | None
    colour: str | None  # as drawn, hex
    x: tuple[float, ...]
    y: tuple[float, ...]
    x_span: float
    y_span: float


@dataclass(frozen=True)
class Bar:
    panel: int
    label: str  # its tick label
    value: float


@dataclass(frozen=True)
class Region:
    """A drawn shape a label may stand inside: its kind and geometry in data coordinates."""

    panel: int
    kind: str  # the tracer's patch kind: "Circle", "Polygon", ...
    geometry: dict[str, Any]
    bbox_px: tuple[float, float, float, float] | None  # x0, y0, x1, y1 in image pixels


@dataclass(frozen=True)
class Spot:
    """Where a text is anchored: in data coordinates of its panel, and in image pixels."""

    panel: int
    xy: tuple[float, float]
    px: tuple[float, float]


@dataclass
class DataFacts:
    series: list[Series] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    #: each text drawn once, and where it is anchored in image pixels (y downwards)
    places: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the texts drawn once at data coordinates, and the shapes they may stand inside
    spots: dict[str, Spot] = field(default_factory=dict)
    regions: list[Region] = field(default_factory=list)


@dataclass(frozen=True)
class DataClaim:
    kind: str  # "maximum", "minimum", "trend", "extreme bar", "bar order", "count", "position",
    # "inside" (`what`: "inside circle", "outside triangle"), "intersection" (of two named
    # curves: where, at `at` and y in `between`, or how often, `value`)
    text: str
    span: tuple[int, int]
    what: str = ""  # the trend, the count's noun, the bar's superlative
    value: float | None = None
    at: float | None = None
    between: tuple[float, float] | None = None
    labels: tuple[str, ...] = ()  # bar labels, or the series a sentence names

    def __str__(self) -> str:
        return self.text


# -- the data -------------------------------------------------------------------------------------

def _span(lim: Any) -> float:
    try:
        return abs(float(lim[1]) - float(lim[0])) or 1.0
    except (TypeError, ValueError, IndexError):
        return 1.0


def data_facts(trace: dict[str, Any]) -> DataFacts:
    """The 2D curves and bars of a trace; 3D, polar and colorbar panels hold no such data."""
    axes = {a.get("index", i): a for i, a in enumerate(trace.get("axes", []))}
    flat = {i for i, a in axes.items() if a.get("kind") == "rectilinear" and a.get("axis_on", True)}
    out = DataFacts()
    for ln in trace.get("lines", []):
        pts = ln.get("profile") or ln.get("points") or []
        ax = axes.get(ln.get("axes"))
        if ln.get("axes") not in flat or len(pts) < MIN_VERTICES or any(len(p) != 2 or None in p for p in pts):
            continue
        xs, ys = zip(*pts)
        out.series.append(Series(ln["axes"], ln.get("label"), ln.get("color"), xs, ys,
                                 _span(ax.get("xlim")), _span(ax.get("ylim"))))
    for i in sorted(flat):
        bars = _bars(axes[i], [p for p in trace.get("patches", []) if p.get("axes") == i])
        out.bars += bars
        if len(bars) >= 2:
            horizontal = _horizontal([p for p in trace.get("patches", []) if p.get("axes") == i])
            span = _span(axes[i].get("xlim" if horizontal else "ylim"))
            out.series.append(Series(i, None, None, tuple(range(len(bars))), tuple(b.value for b in bars),
                                     float(len(bars)), span))
    anchors: dict[str, list[tuple[float, float]]] = {}
    for t in trace.get("texts", []):
        if t.get("role") in ("text", "annotation") and t.get("xy_px") and None not in t["xy_px"]:
            anchors.setdefault(t["text"].strip(), []).append((float(t["xy_px"][0]), float(t["xy_px"][1])))
    out.places = {text: at[0] for text, at in anchors.items() if len(at) == 1}  # "'A'" must be one
    # Whether a label stands inside a shape needs no visible axis, only 2D data coordinates.
    plane = {i for i, a in axes.items() if a.get("kind") == "rectilinear"}
    out.spots = {t["text"].strip(): Spot(t["axes"], (float(t["xy"][0]), float(t["xy"][1])),
                                         out.places[t["text"].strip()])
                 for t in trace.get("texts", []) if t["text"].strip() in out.places and t.get("coords") == "data"
                 and t.get("axes") in plane and t.get("xy") and None not in t["xy"]}
    out.regions = [Region(p["axes"], p["kind"], p["geometry"], tuple(p["bbox_px"]) if p.get("bbox_px") else None)
                   for p in trace.get("patches", []) if p.get("axes") in plane and p.get("kind") in SHAPES
                   and isinstance(p.get("geometry"), dict)]
    return out


def _rects(patches: list[dict]) -> list[dict]:
    return [p["geometry"] for p in patches if p.get("kind") == "Rectangle" and
            isinstance(p.get("geometry"), dict) and p["geometry"].get("xy") and not p["geometry"].get("angle")]


def _horizontal(patches: list[dict]) -> bool:
    rects = _rects(patches)
    return len({round(r["xy"][0], 9) for r in rects}) == 1 and len({round(r["xy"][1], 9) for r in rects}) > 1


def _bars(ax: dict, patches: list[dict]) -> list[Bar]:
    """Rectangles on one baseline, each named by the tick label at its centre."""
    rects = _rects(patches)
    if len(rects) < 2:
        return []
    horizontal = _horizontal(patches)
    base = {round(r["xy"][0 if horizontal else 1], 9) for r in rects}
    if len(base) != 1:
        return []
    ticks = list(zip(ax.get("yticks" if horizontal else "xticks") or [],
                     ax.get("yticklabels" if horizontal else "xticklabels") or []))
    bars = []
    for r in sorted(rects, key=lambda r: r["xy"][1 if horizontal else 0]):
        lo, size = (r["xy"][1], r["height"]) if horizontal else (r["xy"][0], r["width"])
        value = r["width"] if horizontal else r["height"]
        centre = lo + size / 2
        named = [t for loc, t in ticks if loc is not None and abs(loc - centre) <= abs(size) / 2 and t]
        if value is None or not named:
            return []  # a histogram, or bars no tick names: no comparison can be read
        bars.append(Bar(ax.get("index", 0), named[0].strip(), float(value)))
    return bars


# -- claims ---------------------------------------------------------------------------------------

def number(text: str) -> float:
    text = text.replace("−", "-").replace(" ", "")
    if "π" not in text:
        return float(text)
    head, _, tail = text.partition("π")
    coefficient = -1.0 if head == "-" else float(head) if head else 1.0
    return coefficient * math.pi / (float(tail.lstrip("/")) if tail.startswith("/") else 1.0)


def _count(text: str) -> float:
    return float(NUMBER_WORDS[text.lower()]) if text.lower() in NUMBER_WORDS else number(text)


_EXTREMUM = re.compile(
    rf"\b(?P<word>(?:global |local )?(?:maximum|minimum|peak|trough)|highest (?:point|value)|"
    rf"lowest (?:point|value))s?\b"
    rf"(?:\s+(?:value|height|displacement|level))?"
    rf"(?:\s*(?:of|is|=|≈|:|,|\()\s*(?:about |approximately |roughly |around |≈\s*)?(?P<value>{_NUM}))?"
    rf"(?:\)?,?\s*(?:at|near|when|around|where|reached at)\s+(?:{_VAR}\s*(?:=|≈)\s*)?(?P<at>{_NUM}))?",
    re.IGNORECASE)
_TRENDS = {
    "rising": r"ris(?:es|ing)|increas(?:es|ing)|grows|growing|climbs|climbing|ascending",
    "falling": r"falls|falling|decreas(?:es|ing)|declin(?:es|ing)|descending|drops|dropping",
    "oscillating": r"oscillat(?:es|ing|ory)|periodic|sinusoidal",
    "decaying": r"decay(?:s|ing)?|damped|dies out|dying out",
}
_TREND = re.compile(r"\b(?P<word>" + "|".join(f"(?P<{k}>{v})" for k, v in _TRENDS.items()) + r")\b"
                    rf"(?:(?:(?!\b(?:and|but|then|while)\b)[^.;\d]){{0,30}}?\b(?:from|between)\s+(?:{_VAR}\s*=\s*)?(?P<a>{_NUM})\s+"
                    rf"(?:to|and)\s+(?:{_VAR}\s*=\s*)?(?P<b>{_NUM}))?", re.IGNORECASE)
_SUPERLATIVE = r"(?P<sup>tallest|highest|largest|longest|biggest|shortest|lowest|smallest)"
_LABEL = r"(?P<label>'[^']+'|[A-Z0-9](?:[\w+-]|\.(?=\w))*)"
_EXTREME_BAR = re.compile(
    rf"\b(?:the\s+)?{_SUPERLATIVE}\s+bar\b[^.;']{{0,30}}?\b(?:is|belongs to|is for|is at|goes to)\s+"
    rf"(?:that of\s+|the one for\s+|the\s+)?{_LABEL}"
    rf"|{_LABEL.replace('label', 'label2')}\s+has\s+the\s+{_SUPERLATIVE.replace('sup', 'sup2')}\s+bar\b")
_ORDER = re.compile(
    rf"{_LABEL}(?:'s)?\s+(?:bar\s+)?(?:is\s+)?(?P<cmp>taller|higher|larger|longer|greater|bigger|"
    rf"shorter|lower|smaller)\s+than\s+(?:that of\s+|the bar of\s+)?{_LABEL.replace('label', 'other')}")
_COUNTED = re.compile(
    rf"\b(?P<n>{_COUNT})\s+(?:distinct\s+|clear\s+|visible\s+|local\s+|full\s+|complete\s+)?"
    r"(?P<what>peaks?|maxima|maximums|troughs?|minima|oscillations?|cycles?|periods?|zero crossings?)\b"
    rf"|\bcross(?:es|ing)?\s+(?:the\s+)?(?P<level>zero|x-axis|horizontal axis|y\s*=\s*(?P<y>{_NUM}))\s+"
    rf"(?P<n2>{_COUNT})\s+times?\b", re.IGNORECASE)
_POSITION = re.compile(r"'(?P<a>[^']+)'\s+(?:is\s+|lies\s+|stands\s+|sits\s+)?(?:placed\s+)?(?:to the\s+)?"
                       r"(?P<rel>left of|right of|above|below)\s+'(?P<b>[^']+)'")
_CROSSING = re.compile(
    r"'(?P<a>[^']+)'\s+(?:and\s+'(?P<b>[^']+)'\s+(?:intersect|cross|meet)|(?:crosses|intersects|meets)\s+"
    r"'(?P<b2>[^']+)')\s+(?:each other\s+)?"
    rf"(?:(?:only\s+)?(?:at|near)\s+(?:\(\s*(?P<px>{_NUM})\s*,\s*(?P<py>{_NUM})\s*\)|(?:x\s*=\s*)?(?P<x>{_NUM}))"
    rf"|(?P<n>{_COUNT})\s+times?\b|(?P<times>once|twice)\b)", re.IGNORECASE)
#: what a caption may call a shape, and the patch kinds (with vertex counts) it names
SHAPES = {"Circle": "circle", "Ellipse": "ellipse", "Rectangle": "rectangle", "Polygon": "polygon"}
_SHAPE_WORDS = {"circle": ("Circle",), "disk": ("Circle",), "disc": ("Circle",), "ellipse": ("Ellipse", "Circle"),
                "rectangle": ("Rectangle",), "box": ("Rectangle",), "polygon": ("Polygon",),
                "triangle": ("Polygon", 3), "quadrilateral": ("Polygon", 4), "pentagon": ("Polygon", 5),
                "hexagon": ("Polygon", 6), "shape": tuple(SHAPES)}
_INSIDE = re.compile(r"'(?P<a>[^']+)'\s+(?:is\s+|lies\s+|stands\s+|sits\s+)?(?:placed\s+)?"
                     r"(?P<rel>inside|within|outside)\s+(?:of\s+)?(?:the|a|an)\s+(?P<shape>"
                     + "|".join(_SHAPE_WORDS) + r")\b", re.IGNORECASE)
_SIDES = {"tallest": 1, "highest": 1, "largest": 1, "longest": 1, "biggest": 1, "greater": 1,
          "taller": 1, "higher": 1, "larger": 1, "longer": 1, "bigger": 1}


def _sentence(text: str, at: int) -> str:
    start = max(text.rfind(". ", 0, at), text.rfind("; ", 0, at)) + 1
    end = min([i for i in (text.find(". ", at), text.find("; ", at)) if i >= 0] or [len(text)])
    return text[start:end]


def _named_series(sentence: str, names: set[str]) -> tuple[str, ...]:
    """The legend labels a sentence names: its claims are about those series."""
    return tuple(sorted(n for n in names if n and f"'{n}'" in sentence))


def extract(caption: str, series_names: set[str] = frozenset(),
            bar_labels: set[str] = frozenset()) -> list[DataClaim]:
    """The data claims of a caption; `series_names` are the legend labels of the curves, and
    `bar_labels` tell a comparison of bars ("Jan is higher than Feb") from other prose."""
    claims: list[DataClaim] = []
    for m in _EXTREMUM.finditer(caption):
        if m.group("value") is None and m.group("at") is None:
            continue
        word = m.group("word").lower()
        kind = "maximum" if any(w in word for w in ("max", "peak", "highest")) else "minimum"
        what = "global" if not any(w in word for w in ("peak", "trough", "local")) else "local"
        claims.append(DataClaim(kind, m.group().strip(" ,("), m.span(), what,
                                number(m.group("value")) if m.group("value") else None,
                                number(m.group("at")) if m.group("at") else None,
                                labels=_named_series(_sentence(caption, m.start()), series_names)))
    for m in _TREND.finditer(caption):
        trend = next(k for k in _TRENDS if m.group(k))
        between = (number(m.group("a")), number(m.group("b"))) if m.group("a") else None
        claims.append(DataClaim("trend", m.group().strip(), m.span(), trend, between=between,
                                labels=_named_series(_sentence(caption, m.start()), series_names)))
    for m in _EXTREME_BAR.finditer(caption):
        sup, label = (m.group("sup"), m.group("label")) if m.group("sup") else (m.group("sup2"), m.group("label2"))
        claims.append(DataClaim("extreme bar", m.group().strip(), m.span(), sup.lower(),
                                labels=(label.strip("'"),)))
    for m in _ORDER.finditer(caption):
        if not {m.group("label").strip("'"), m.group("other").strip("'")} & bar_labels:
            continue
        claims.append(DataClaim("bar order", m.group().strip(), m.span(), m.group("cmp").lower(),
                                labels=(m.group("label").strip("'"), m.group("other").strip("'"))))
    for m in _POSITION.finditer(caption):
        claims.append(DataClaim("position", m.group().strip(), m.span(), m.group("rel"),
                                labels=(m.group("a"), m.group("b"))))
    for m in _INSIDE.finditer(caption):
        rel = "outside" if m.group("rel").lower() == "outside" else "inside"
        claims.append(DataClaim("inside", m.group().strip(), m.span(), f"{rel} {m.group('shape').lower()}",
                                labels=(m.group("a"),)))
    for m in _CROSSING.finditer(caption):
        n = {"once": 1.0, "twice": 2.0}.get((m.group("times") or "").lower())
        n = _count(m.group("n")) if m.group("n") else n
        x, y = (m.group("px"), m.group("py")) if m.group("px") else (m.group("x"), None)
        claims.append(DataClaim("intersection", m.group().strip(), m.span(), value=n,
                                at=number(x) if x else None, between=(number(y), number(y)) if y else None,
                                labels=(m.group("a"), m.group("b") or m.group("b2"))))
    for m in _COUNTED.finditer(caption):
        named = _named_series(_sentence(caption, m.start()), series_names)
        if m.group("n") is not None:
            what = m.group("what").lower()
            noun = ("crossing" if "cross" in what else "peak" if what.startswith(("peak", "maxim")) else
                    "trough" if what.startswith(("trough", "minim")) else "cycle")
            claims.append(DataClaim("count", m.group().strip(), m.span(), noun, _count(m.group("n")),
                                    labels=named))
        else:
            level = number(m.group("y")) if m.group("y") else 0.0
            claims.append(DataClaim("count", m.group().strip(), m.span(), "crossing", _count(m.group("n2")),
                                    at=level, labels=named))
    return claims


# -- the check ------------------------------------------------------------------------------------

def _tol(span: float) -> float:
    return VALUE_TOLERANCE * span


def turns(y: np.ndarray, prominence: float = PROMINENCE) -> tuple[list[int], list[int]]:
    """Interior peaks and troughs: turns that stand out by `prominence` of the curve's range."""
    need = prominence * float(y.max() - y.min())
    if need <= 0:
        return [], []
    peaks: list[int] = []
    troughs: list[int] = []
    hi = lo = 0  # the running top and bottom since the last turn
    direction = 0  # 1 rising, -1 falling, 0 not yet known
    for i in range(1, len(y)):
        if direction >= 0 and y[i] > y[hi]:
            hi = i
        if direction <= 0 and y[i] < y[lo]:
            lo = i
        if direction >= 0 and y[hi] - y[i] >= need:
            if direction == 1 or y[hi] - y[0] >= need:  # a rise led into it: not the start
                peaks.append(hi)
            direction, lo = -1, i
        elif direction <= 0 and y[i] - y[lo] >= need:
            if direction == -1 or y[0] - y[lo] >= need:
                troughs.append(lo)
            direction, hi = 1, i
    return peaks, troughs


def trend_of(y: np.ndarray) -> set[str]:
    """What a curve does: rising, falling, oscillating, decaying (possibly several)."""
    if len(y) < 3:
        return set()
    rng = float(y.max() - y.min())
    if rng <= 0:
        return set()
    steps = np.diff(y)
    up, down = float(steps[steps > 0].sum()), float(-steps[steps < 0].sum())
    net = float(y[-1] - y[0])
    found = set()
    if net >= NET_CHANGE * rng and down <= BACKTRACK * up:
        found.add("rising")
    if -net >= NET_CHANGE * rng and up <= BACKTRACK * down:
        found.add("falling")
    peaks, troughs = turns(y)
    if len(peaks) + len(troughs) >= 3:
        found.add("oscillating")
    third = max(1, len(y) // 3)
    level = float(np.median(y[-max(1, len(y) // 10):]))
    swing = np.abs(y - level)
    if "rising" not in found and swing[-third:].max() <= DECAY * swing[:third].max() and \
            swing[:third].max() >= NET_CHANGE * rng:
        found.add("decaying")
    return found


def _candidates(claim: DataClaim, data: DataFacts) -> list[Series]:
    named = [s for s in data.series if s.label in claim.labels]
    return named or data.series


def _extremum(claim: DataClaim, s: Series) -> bool:
    x, y = np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float)
    ty, tx = _tol(s.y_span), _tol(s.x_span)
    sign = 1.0 if claim.kind == "maximum" else -1.0
    best = float((sign * y).max())
    # Where the curve turns: its interior peaks (troughs) and ends; a global extremum is one of
    # them as high (low) as the highest (lowest), a peak need not be.
    at = [*turns(y)[0 if sign > 0 else 1], int(np.argmax(sign * y)), 0, len(y) - 1]
    if claim.what != "local":
        at = [i for i in at if sign * y[i] >= best - ty]
    for i in at:
        if claim.value is not None and abs(y[i] - claim.value) > ty:
            continue
        if claim.at is not None and abs(x[i] - claim.at) > tx:
            continue
        return True
    return False


def _count_holds(claim: DataClaim, s: Series) -> bool:
    y = np.asarray(s.y, dtype=float)
    n = claim.value
    if claim.what == "crossing":
        level = claim.at or 0.0
        signs = np.sign(y - level)
        signs = signs[signs != 0]
        return n == int((np.diff(signs) != 0).sum())
    least, most = (_turn_count(turns(y, p), claim.what) for p in (PROMINENCE, FAINT_PROMINENCE))
    # A turn cut off by the end of the curve may be counted too, or an end that is a top.
    ends = max(1, 0 if claim.what == "cycle" else _end_extremes(y, claim.what))
    return least <= n <= most + ends


def _turn_count(found: tuple[list[int], list[int]], what: str) -> int:
    peaks, troughs = found
    return {"peak": len(peaks), "trough": len(troughs), "cycle": max(len(peaks), len(troughs))}[what]


def _end_extremes(y: np.ndarray, what: str) -> int:
    """Endpoints a reader may count as peaks (a curve that starts at its top)."""
    sign = 1.0 if what == "peak" else -1.0
    need = PROMINENCE * float(y.max() - y.min())
    return int(sign * (y[0] - y[1]) >= 0 and sign * y[0] >= sign * y.mean() + need) + \
        int(sign * (y[-1] - y[-2]) >= 0 and sign * y[-1] >= sign * y.mean() + need)


def _trend_holds(claim: DataClaim, s: Series) -> bool:
    x, y = np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float)
    if claim.between:
        a, b = sorted(claim.between)
        tx = _tol(s.x_span)
        keep = (x >= a - tx) & (x <= b + tx)
        x, y = x[keep], y[keep]
    return claim.what in trend_of(y)


def _bars_hold(claim: DataClaim, data: DataFacts) -> bool:
    by_label = {}
    for b in data.bars:
        by_label.setdefault(b.label, []).append(b)
    if claim.kind == "bar order":
        a, b = (by_label.get(label) for label in claim.labels)
        if not a or not b:
            return False
        taller = a[0].value > b[0].value
        return taller if _SIDES.get(claim.what, -1) == 1 else a[0].value < b[0].value
    (label,) = claim.labels
    if label not in by_label:
        return False
    panel = by_label[label][0].panel
    values = [b.value for b in data.bars if b.panel == panel]
    extreme = max(values) if _SIDES.get(claim.what, -1) == 1 else min(values)
    return any(abs(b.value - extreme) <= 1e-9 * max(1.0, abs(extreme)) for b in by_label[label])


def _position_holds(claim: DataClaim, data: DataFacts) -> bool:
    a, b = (data.places.get(label) for label in claim.labels)
    if a is None or b is None:
        return False
    gap = {"left of": b[0] - a[0], "right of": a[0] - b[0], "above": b[1] - a[1], "below": a[1] - b[1]}
    return gap[claim.what] >= POSITION_MARGIN_PX


def crossings(a: Series, b: Series) -> list[tuple[float, float]] | None:
    """Where two curves of one panel cross, as (x, y); None where that cannot be read (another
    panel, or a curve that is no function of x)."""
    if a.panel != b.panel:
        return None
    curves = []
    for s in (a, b):
        x, y = np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float)
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        if len(np.unique(x)) < len(x):
            return None
        curves.append((x, y))
    (xa, ya), (xb, yb) = curves
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    grid = np.unique(np.concatenate([xa, xb]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    if len(grid) < 2:
        return []
    gap = np.interp(grid, xa, ya) - np.interp(grid, xb, yb)
    found = []
    for i in np.flatnonzero(np.sign(gap[:-1]) * np.sign(gap[1:]) < 0):
        x = grid[i] + (grid[i + 1] - grid[i]) * gap[i] / (gap[i] - gap[i + 1])
        found.append((float(x), float(np.interp(x, xa, ya))))
    found += [(float(x), float(np.interp(x, xa, ya))) for x in grid[gap == 0]]  # they touch
    return sorted(found)


def _intersection_holds(claim: DataClaim, data: DataFacts) -> bool:
    a, b = ([s for s in data.series if s.label == label] for label in claim.labels)
    if len(a) != 1 or len(b) != 1:
        return False  # a name that is no curve, or two curves of that name: nothing to read
    found = crossings(a[0], b[0])
    if found is None:
        return False
    if claim.value is not None:
        return claim.value == len(found)
    tx, ty = _tol(a[0].x_span), _tol(a[0].y_span)
    return any(abs(x - claim.at) <= tx and (claim.between is None or abs(y - claim.between[0]) <= ty)
               for x, y in found)


def contains(region: Region, spot: Spot) -> bool:
    """Is the text's anchor inside the shape? In data coordinates by the shape's geometry, and in
    pixels by its drawn box too (a shape placed in other coordinates fails the second)."""
    if region.panel != spot.panel:
        return False
    if region.bbox_px is not None:
        x0, y0, x1, y1 = region.bbox_px
        if not (min(x0, x1) <= spot.px[0] <= max(x0, x1) and min(y0, y1) <= spot.px[1] <= max(y0, y1)):
            return False
    g, (x, y) = region.geometry, spot.xy
    try:
        if region.kind == "Circle":
            (cx, cy), r = g["center"], g["radius"]
            return math.hypot(x - cx, y - cy) <= r
        if region.kind == "Ellipse":
            (cx, cy), a = g["center"], math.radians(-(g.get("angle") or 0.0))
            u = (x - cx) * math.cos(a) - (y - cy) * math.sin(a)
            v = (x - cx) * math.sin(a) + (y - cy) * math.cos(a)
            return (u / (g["width"] / 2)) ** 2 + (v / (g["height"] / 2)) ** 2 <= 1
        if region.kind == "Rectangle" and not g.get("angle"):
            (x0, y0), w, h = g["xy"], g["width"], g["height"]
            return min(x0, x0 + w) <= x <= max(x0, x0 + w) and min(y0, y0 + h) <= y <= max(y0, y0 + h)
        if region.kind == "Polygon" and g.get("vertices") and len(g["vertices"]) == g.get("n_vertices"):
            return _in_polygon(np.asarray(g["vertices"], dtype=float), x, y)
    except (TypeError, KeyError, ValueError, ZeroDivisionError):
        return False  # a shape whose geometry is not all there says nothing
    return False


def _in_polygon(v: np.ndarray, x: float, y: float) -> bool:
    """Even-odd rule: a ray to the right crosses the boundary an odd number of times."""
    (x1, y1), (x2, y2) = v.T, np.roll(v, -1, axis=0).T
    spans = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return bool(np.count_nonzero(spans & (x < cut)) % 2)


def corners(region: Region) -> int:
    """A polygon's corners: matplotlib closes it by repeating the first."""
    v = region.geometry.get("vertices") or []
    return len(v) - 1 if len(v) > 1 and v[0] == v[-1] else len(v)


def named_regions(word: str, data: DataFacts, panel: int) -> list[Region]:
    """The shapes of a panel a word may name ("the triangle": a polygon of 3 corners)."""
    kinds = _SHAPE_WORDS[word]
    n = next((k for k in kinds if isinstance(k, int)), None)
    return [r for r in data.regions if r.panel == panel and r.kind in kinds
            and (n is None or corners(r) == n)]


def _inside_holds(claim: DataClaim, data: DataFacts) -> bool:
    spot = data.spots.get(claim.labels[0])
    if spot is None:
        return False
    rel, word = claim.what.split(" ", 1)
    regions = named_regions(word, data, spot.panel)
    inside = [r for r in regions if contains(r, spot)]
    return bool(inside) if rel == "inside" else bool(regions) and not inside


def holds(claim: DataClaim, data: DataFacts) -> bool:
    """Is the claim true of some series it may be about? No data: nothing backs it."""
    if claim.kind == "position":
        return _position_holds(claim, data)
    if claim.kind == "intersection":
        return _intersection_holds(claim, data)
    if claim.kind == "inside":
        return _inside_holds(claim, data)
    if claim.kind in ("extreme bar", "bar order"):
        return _bars_hold(claim, data)
    check = {"maximum": _extremum, "minimum": _extremum, "trend": _trend_holds, "count": _count_holds}[claim.kind]
    return any(check(claim, s) for s in _candidates(claim, data))
