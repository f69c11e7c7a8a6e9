"""Grounding check: every checkable claim of a caption must be backed by a fact (paper §3.2).

A caption's claims are its numbers (digits, number words bound to a noun, multiples of π), quoted
strings and point labels ("A1", "ABCD"). Facts come from three places: the execution trace
(`pipelines.facts`), the program's own numeric literals and constant expressions (AST), and for
solid geometry the template parameters θ. A number bound to a noun ("5 lines", "radius 2.25")
must equal that noun's fact when the fact exists; any other number must appear among the facts.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from typing import Any

from matplotlib import colors as mcolors

from pipelines import data_claims
from pipelines.data_claims import DataClaim, DataFacts
from pipelines.facts import Facts, code_numbers, code_strings, colour_name

NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}

# "3-D", "2D": dimensions of a plot, not quantities a figure could contradict.
_DIMENSION = re.compile(r"\b[23]-?D\b")
_QUOTED = re.compile(r"(?<![A-Za-z])'([^'\n]+)'(?![A-Za-z])")
# A number not glued to a word on its left ("A1" is a label); a sign only where it cannot be a
# hyphen ("1-4-1" is three numbers).
_NUMBER = re.compile(r"(?<![\w.])([-−]?)(\d+(?:\.\d+)?)(π?)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+(?:\.\d+)?|[^\sA-Za-z\d]")
_LABEL_TOKEN = re.compile(r"(?<![\w'])[A-Z][A-Z0-9_']*\b")
_LABEL_ATOM = re.compile(r"[A-Z](?:_?\d+)?'*")
# Between a number and its noun only colours (and "identical") may stand ("Seven red arrows"):
# "1 hidden line" of one view is not "1 line" of the figure.
COLOUR_WORDS = frozenset(
    "light dark pale sky navy red orange yellow green blue purple pink brown cyan magenta olive "
    "grey gray black white salmon amber lilac teal crimson violet gold".split()) | {"identical"}
NOUN_WINDOW = 3
# Colour words a caption is held to: a hue, optionally shaded ("light green", "sky blue").
_COLOUR = re.compile(r"\b(?:(light|dark|pale|sky|navy)\s+)?(red|orange|yellow|green|blue|purple|pink|brown|"
                     r"cyan|magenta|olive|grey|gray|black|white|salmon|amber|lilac|teal|crimson|violet|"
                     r"lavender|navy)\b", re.IGNORECASE)
# A colour word names a hue, not a shade: "green" is said of #90be6d, "orange" of darkorange.
HUE_TOLERANCE = 35 / 360
GREY_SATURATION = 0.12  # a word below it names black, grey or white, told apart by value
GREY_VALUE_TOLERANCE = 0.4
FAINT_SATURATION = 0.04  # a pastel (#ffe5ec, "pale pink") still has a hue

# Which θ keys a noun placed before a number names ("radius 2.25", "cone height 3", "elevation 20°").
KEYED_NOUNS = {
    "radius": re.compile(r"r|R|radius"),
    "height": re.compile(r"h\d*|height"),
    "length": re.compile(r"a|length"),
    "width": re.compile(r"b|width"),
    "edge": re.compile(r"a|r|edge"),
    "elevation": re.compile(r"elev"),
    "azimuth": re.compile(r"azim"),
}
# What a polygon's name says of its vertices ("the section is a pentagon with 5 vertices").
POLYGON_SIDES = {"triangle": 3, "quadrilateral": 4, "rectangle": 4, "square": 4, "rhombus": 4,
                 "trapezoid": 4, "parallelogram": 4, "kite": 4, "pentagon": 5, "hexagon": 6}


@dataclass(frozen=True)
class Claim:
    kind: str  # "number", "string", "label", "colour", "data"
    text: str
    value: float | None = None
    noun: str | None = None  # the noun a number is bound to, if any
    span: tuple[int, int] = (0, 0)  # where the caption states it (two equal numbers are two claims)
    data: DataClaim | None = None  # what a "data" claim says of the plotted data

    def __str__(self) -> str:
        return f"{self.text} ({self.noun})" if self.noun else self.text


@dataclass
class FactSet:
    """Everything a caption may state, normalised for lookup."""

    numbers: list[float] = field(default_factory=list)  # sorted
    bound: dict[str, set[float]] = field(default_factory=dict)  # noun -> allowed values
    strings: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    sequences: list[tuple[float, ...]] = field(default_factory=list)  # θ lists, points, ranges
    colours: list[tuple[float, float, float]] = field(default_factory=list)
    data: DataFacts = field(default_factory=DataFacts)
    series_names: set[str] = field(default_factory=set)  # legend labels of the curves
    bar_labels: set[str] = field(default_factory=set)

    def has_number(self, value: float, decimals: int) -> bool:
        """Is some fact equal to `value` at the precision the caption wrote it with?"""
        tol = 0.5 * 10.0 ** -decimals + 1e-9
        i = bisect.bisect_left(self.numbers, value - tol)
        return i < len(self.numbers) and self.numbers[i] <= value + tol


@dataclass(frozen=True)
class Grounding:
    claims: int
    ungrounded: list[str]

    @property
    def score(self) -> float | None:
        """The share of claims backed by facts; None for a caption that claims nothing (it is
        ungraded, not grounded)."""
        return 1 - len(self.ungrounded) / self.claims if self.claims else None

    def to_dict(self) -> dict[str, Any]:
        score = None if self.score is None else round(self.score, 4)
        return {"score": score, "claims": self.claims, "ungrounded": self.ungrounded}


# -- claims ---------------------------------------------------------------------------------------

def singular(word: str) -> str:
    word = word.lower()
    if word.endswith("ices"):
        return word[:-4] + "ex"
    if word.endswith(("ches", "shes", "xes", "ses")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _noun_after(text: str, start: int, end: int, nouns: set[str]) -> str | None:
    """The first known noun within a few words after a number, with only colours between.

    "the 3 edges" and "the hidden 3 edges" name a part of the figure, not all of its edges."""
    if "the" in [w.lower() for w in _WORD.findall(text[max(0, start - 20):start])[-2:]]:
        return None
    words = _WORD.findall(text[end:end + 80])[:NOUN_WINDOW + 1]
    for n in (2, 1):  # a subtotal by colour, "(12 black, 4 orange)"
        colour = " ".join(words[:n]).lower()
        if len(words) > n and words[n] in (",", ")") and f"{colour} line" in nouns:
            return f"{colour} line"
    for i, w in enumerate(words):
        if not w[0].isalpha():
            return None
        for n in (2, 1):
            head = words[i:i + n]
            phrase = " ".join(singular(x) if j == n - 1 else x.lower() for j, x in enumerate(head))
            if len(head) == n and phrase in nouns:
                return phrase
        if w.lower() not in COLOUR_WORDS:
            return None
    return None


def _noun_before(text: str, start: int, nouns: set[str]) -> str | None:
    """A keyed noun right before a number: "radius 2.25", "height AA1 = 5"; or the polygon
    whose vertices a number counts: "a pentagon with 5 vertices"."""
    words = _WORD.findall(text[max(0, start - 40):start])
    if len(words) >= 3 and words[-1] == "=" and _LABEL_TOKEN.fullmatch(words[-2]):
        words = words[:-2]
    if len(words) >= 2 and words[-1] == "with" and words[-2].lower() in POLYGON_SIDES:
        after = _WORD.findall(text[start:start + 30])
        if len(after) >= 2 and singular(after[1]) == "vertex":
            return f"{words[-2].lower()} vertex"
    if words and words[-1].lower() + " number" in nouns:
        return words[-1].lower() + " number"  # "Panel 3" is the third panel
    return keyed(words[-1]) if words and keyed(words[-1]) in nouns else None


def plain(text: str) -> str:
    """A string as a reader quotes it: its words, one space apart (a drawn line break is layout)."""
    return " ".join(text.split())


def keyed(noun: str) -> str:
    """The fact key of a quantity named before its value ("radius 2"), apart from counts ("2 radii")."""
    return f"{noun.lower()} ="


def _numbers_in(text: str) -> list[float]:
    """Every number a drawn string shows ("Peak at x = 2" shows 2, whatever it claims)."""
    text = _DIMENSION.sub(lambda m: " " * len(m.group()), text)
    return [float(m.group(2)) * (-1 if m.group(1) else 1) * (math.pi if m.group(3) else 1)
            for m in _NUMBER.finditer(text)]


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def extract_claims(
    caption: str, nouns: set[str] = frozenset(), labels: set[str] = frozenset(),
    series: set[str] = frozenset(), bars: set[str] = frozenset(),
) -> list[Claim]:
    """The checkable claims of a caption.

    `nouns` are those a number may be bound to; `labels` the point labels drawn, which tell a run
    of labels ("ABCD") from an acronym; `series` and `bars` the legend labels and bar labels a
    claim about the data may name. A number inside a claim about the data ("a maximum of 1 at
    x = 1.57") is that claim's, not a literal of its own.
    """
    found = data_claims.extract(caption, series, bars)
    claims = [Claim("data", str(d), span=d.span, data=d) for d in found]
    claims += [Claim("string", m.group(1), span=m.span(1)) for m in _QUOTED.finditer(caption)]
    text = _blank(caption, [m.span() for m in _QUOTED.finditer(caption)])
    text = _DIMENSION.sub(lambda m: " " * len(m.group()), text)
    free = _blank(text, [d.span for d in found])  # numbers outside the claims about the data
    for m in _NUMBER.finditer(free):
        value = float(m.group(2)) * (-1 if m.group(1) else 1)
        before = {n for n in nouns if n.endswith((" =", " number"))}
        noun = _noun_before(text, m.start(), before) or _noun_after(text, m.start(), m.end(), nouns)
        value *= math.pi if m.group(3) else 1
        claims.append(Claim("number", m.group().replace("−", "-"), value, noun, m.span()))
    for m in re.finditer(r"\b[A-Za-z]+\b", free):
        value = NUMBER_WORDS.get(m.group().lower())
        noun = _noun_after(text, m.start(), m.end(), nouns) if value is not None else None
        if noun:  # an unbound "one" is English ("one of"), not a quantity
            claims.append(Claim("number", m.group(), float(value), noun, m.span()))
    for m in _LABEL_TOKEN.finditer(text):
        if _is_label(text, m, labels):
            claims.append(Claim("label", m.group(), span=m.span()))
    claims += [Claim("colour", m.group().lower(), span=m.span()) for m in _COLOUR.finditer(text)]
    return claims


def colour_rgbs(name: str) -> list[tuple[float, float, float]]:
    """What a colour word may mean: its CSS and its xkcd shade ("lavender" differs)."""
    key = re.sub(r"\s+", " ", name.lower())
    found = [mcolors.CSS4_COLORS.get(key.replace(" ", "")), mcolors.XKCD_COLORS.get(f"xkcd:{key}")]
    return [mcolors.to_rgb(c) for c in found if c]


def same_colour(named: tuple[float, float, float], drawn: tuple[float, float, float]) -> bool:
    (h1, s1, v1), (h2, s2, v2) = mcolors.rgb_to_hsv(named), mcolors.rgb_to_hsv(drawn)
    if s1 < GREY_SATURATION:
        return s2 < GREY_SATURATION and abs(v1 - v2) <= GREY_VALUE_TOLERANCE
    return s2 >= FAINT_SATURATION and min(abs(h1 - h2), 1 - abs(h1 - h2)) <= HUE_TOLERANCE


def _rgb(value: str) -> tuple[float, float, float] | None:
    try:
        return mcolors.to_rgb(value)
    except ValueError:
        return None


def _sentence_start(text: str, i: int) -> bool:
    return not text[:i].strip() or text[:i].rstrip()[-1] in ".:;!?"


def _is_label(text: str, m: re.Match, labels: set[str]) -> bool:
    token = m.group()
    if text[m.end():m.end() + 1] == "(":
        return False  # a function name, "F(x, y)"
    if token in ("A", "I") and re.match(r"\s+[A-Za-z]", text[m.end():]) and _sentence_start(text, m.start()):
        return False  # the article or the pronoun
    # "ABCD" names points, "STEM" is a word: a run of letters counts when one of them is drawn.
    return len(_atoms(token)) == 1 or any(c.isdigit() for c in token) or bool(_atoms(token) & labels)


# -- facts ----------------------------------------------------------------------------------------

def flatten(params: Any, path: str = "") -> list[tuple[str, Any]]:
    """θ as (dotted key, leaf) pairs."""
    if isinstance(params, dict):
        return [kv for k, v in params.items() for kv in flatten(v, f"{path}.{k}" if path else str(k))]
    if isinstance(params, (list, tuple)):
        return [kv for i, v in enumerate(params) for kv in flatten(v, f"{path}.{i}")]
    return [(path, params)]


def polyhedron_counts(solid: str, n: int | None) -> tuple[int, int, int] | None:
    """Vertices, edges and faces of a named solid (n: sides of a prism's or pyramid's base)."""
    if solid in ("cube", "cuboid"):
        return 8, 12, 6
    if solid == "tetrahedron":
        return 4, 6, 4
    if solid == "octahedron":
        return 6, 12, 8
    k = n or 4
    if "prism" in solid or "frustum" in solid:
        return 2 * k, 3 * k, k + 2
    if "pyramid" in solid:
        return k + 1, 2 * k, k + 1
    return None


def _param_facts(params: dict[str, Any], facts: FactSet, numbers: list[float]) -> None:
    named = params.get("solid")
    counts = polyhedron_counts(named, params.get("n")) if isinstance(named, str) else None
    if counts:
        numbers += list(counts)
        if "cuts" not in params:  # with a section drawn, "vertices" may be the section's
            for noun, n in zip(("vertex", "edge", "face"), counts):
                facts.bound.setdefault(noun, set()).add(float(n))
    for key, leaf in flatten(params):
        if isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
            numbers.append(float(leaf))
            last = key.rsplit(".", 1)[-1]
            if last == "angle":  # an oblique view recedes at the angle's supplement
                numbers.append(180.0 - leaf)
            for noun, keys in KEYED_NOUNS.items():
                if keys.fullmatch(last):
                    facts.bound.setdefault(keyed(noun), set()).add(float(leaf))
        elif isinstance(leaf, str):
            facts.strings.add(leaf)
            facts.labels |= _atoms(leaf)
    facts.sequences += [tuple(map(float, seq)) for seq in _number_lists(params)]
    for value in params.values():
        if _is_grid(value):  # "a 3 × 2 grid", "9 unit cubes": a grid's shape and total
            numbers += [len(value), len(value[0]), max(map(max, value))]
            facts.sequences.append((float(len(value[0])), float(len(value))))
            facts.bound.setdefault("unit cube", set()).add(float(sum(map(sum, value))))


def _number_lists(value: Any) -> list[list[float]]:
    """Every list in θ, nested ones too, as its run of numbers ("B", "C", 1, 2 -> 1, 2)."""
    if isinstance(value, dict):
        return [seq for v in value.values() for seq in _number_lists(v)]
    if not isinstance(value, (list, tuple)):
        return []
    own = [float(v) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ([own] if len(own) >= 2 else []) + [seq for v in value for seq in _number_lists(v)]


def _is_grid(value: Any) -> bool:
    return (isinstance(value, list) and bool(value) and all(isinstance(r, list) and r for r in value)
            and all(isinstance(x, int) for r in value for x in r))


def _atoms(text: str) -> set[str]:
    """Point labels in a drawn string: "$A_1$" and "A1" are the same label."""
    plain = re.sub(r"[${}\\]|mathrm|mathbf", "", text).replace("_", "")
    return {a for token in _LABEL_TOKEN.findall(plain) for a in _LABEL_ATOM.findall(token)}


def fact_set(facts: Facts, code: str, params: dict[str, Any] | None = None) -> FactSet:
    out = FactSet(bound={f"{name} vertex": {float(n)} for name, n in POLYGON_SIDES.items()})
    numbers = list(facts.numbers)
    numbers += code_numbers(code)
    for noun, values in facts.counts().items():
        out.bound[noun] = {float(v) for v in values}
    out.bound["panel number"] = {float(i + 1) for i in range(len(facts.panels))}
    numbers += [float(v) for vs in facts.counts().values() for v in vs]
    numbers += [float(n) for n in facts.subtotals()]
    out.strings = {plain(s) for s in [*facts.strings(), *facts.drawn]}
    out.sequences = list(facts.sequences)
    out.data = facts.data
    out.series_names = {s.label for s in facts.data.series if s.label}
    out.bar_labels = {b.label for b in facts.data.bars}
    named = [leaf for _, leaf in flatten(params or {}) if isinstance(leaf, str)]
    out.colours = [c for c in map(_rgb, [*facts.colours, *code_strings(code), *named]) if c]
    for s in facts.drawn:
        out.labels |= _atoms(s)
        numbers += _numbers_in(s)
    for p in facts.panels:
        if p.view:
            out.bound.setdefault(keyed("elevation"), set()).add(float(p.view["elev"]))
            out.bound.setdefault(keyed("azimuth"), set()).add(float(p.view["azim"]))
    if params:
        _param_facts(params, out, numbers)
    out.numbers = sorted({round(x, 9) for x in numbers if math.isfinite(x)})
    return out


# -- the check ------------------------------------------------------------------------------------

def _decimals(text: str) -> int:
    digits = text.rstrip("π")
    return len(digits.split(".")[1]) if "." in digits else 0


def grounded(claim: Claim, facts: FactSet) -> bool:
    if claim.data is not None:
        return data_claims.holds(claim.data, facts.data)
    if claim.kind == "string":
        return plain(claim.text) in facts.strings
    if claim.kind == "label":
        return _atoms(claim.text) <= facts.labels
    if claim.kind == "colour":
        drawn = [colour_name(mcolors.to_hex(c)) for c in facts.colours]
        return claim.text in drawn or any(
            same_colour(a, b) for a in colour_rgbs(claim.text) for b in facts.colours)
    assert claim.value is not None
    if claim.noun and claim.noun in facts.bound:
        tol = 0.5 * 10.0 ** -_decimals(claim.text)
        return any(abs(claim.value - v) <= tol for v in facts.bound[claim.noun])
    if claim.text.endswith("π"):
        coefficient = float(claim.text.rstrip("π") or 1)
        return facts.has_number(coefficient, _decimals(claim.text)) or facts.has_number(claim.value, 2)
    return facts.has_number(claim.value, _decimals(claim.text))


def check(caption: str, facts: Facts, code: str, params: dict[str, Any] | None = None) -> Grounding:
    """Grounds each claim of `caption`; the ungrounded ones are returned as written."""
    fs = fact_set(facts, code, params)
    claims = extract_claims(caption, set(fs.bound), fs.labels, fs.series_names, fs.bar_labels)
    verdicts = {c: grounded(c, fs) for c in claims}
    for run in runs(caption, claims):
        verdicts.update(_judge_run(run, fs))
    return Grounding(len(claims), [str(c) for c in claims if not verdicts[c]])


# Between the numbers of one listed tuple: "2, 1, 1", "(2, 0, 6.41)", "1 : 2", "3 × 2", "0 ≤ x ≤ 3".
_RUN_SEPARATOR = re.compile(r",\s*|\s+(?::|×|≤\s*[a-z]\s*≤)\s+")


def runs(caption: str, claims: list[Claim]) -> list[list[Claim]]:
    """Numbers written as one tuple: checked together against the ordered facts."""
    numbers = sorted((c for c in claims if c.kind == "number" and c.text[-1].isdigit()),
                     key=lambda c: c.span)
    groups: list[list[Claim]] = []
    for c in numbers:
        if groups and _RUN_SEPARATOR.fullmatch(caption[groups[-1][-1].span[1]:c.span[0]]):
            groups[-1].append(c)
        else:
            groups.append([c])
    return [g for g in groups if len(g) >= 2]


def _judge_run(run: list[Claim], facts: FactSet) -> dict[Claim, bool]:
    """A tuple found among the facts (a ratio either way round) grounds each of its numbers; one
    of three or more that differs in a single place from a fact tuple of its length has that
    place wrong.
    Otherwise the numbers stand alone."""
    n = len(run)
    tol = [0.5 * 10.0 ** -_decimals(c.text) + 1e-9 for c in run]
    best: list[int] | None = None
    for seq in facts.sequences:
        windows = [seq[i:i + n] for i in range(len(seq) - n + 1)]
        for window in windows + ([seq[::-1]] if n == len(seq) == 2 else []):
            wrong = [j for j, c in enumerate(run) if abs(c.value - window[j]) > tol[j]]
            if not wrong:
                return {c: True for c in run}
            if len(wrong) == 1 and len(seq) == n >= 3:  # a pair one off is too often another pair
                best = wrong
    return {run[best[0]]: False} if best else {}
