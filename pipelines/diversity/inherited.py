"""What a mutated solid-geometry program still determines: its parent's exact caption, where the
mutations kept the template's structure.

A cube stack whose colours, line styles or line widths were changed still has 16 cubes on a 4 × 2 grid, and
its parent's caption, computed from θ, says so exactly; the trace alone sees only polygons. A
mutation of a parameter constant, of data, of text or of the chart kind may change what θ determined, so
then nothing is inherited. Each inherited sentence must still hold, checked against the
variation's own trace and program with the parent's θ; a sentence that does not (a colour the
mutation changed) is left out.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines import grounding
from pipelines.facts import Facts

#: mutation kinds (pipelines.diversity.mutator) that change how a figure looks, not what it is
STRUCTURE_KEEPING = frozenset({"color", "linestyle", "marker", "colormap", "grid", "legend", "figsize",
                               "style"})
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def kept_structure(mutations: list[dict[str, Any]]) -> bool:
    return bool(mutations) and all(m.get("kind") in STRUCTURE_KEEPING for m in mutations)


def still_determined(caption: str, params: dict[str, Any], facts: Facts, code: str) -> list[str]:
    """The parent caption's sentences that make checkable claims, all of them still true."""
    kept = []
    for sentence in _SENTENCE.split(caption.strip()):
        found = grounding.check(sentence, facts, code, params)
        if found.claims and not found.ungrounded:
            kept.append(sentence)
    return kept
