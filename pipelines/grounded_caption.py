"""Code-grounded captions with a model (paper §3.2, Eq. 6-8): draft -> analysis -> refine.

A draft caption written from the image is fluent but miscounts; the program and its execution
trace settle what was drawn. The model lists the facts they establish (analysis), then corrects
the draft with minimal edits (refine). The grounding check then decides between the two: the
refined caption is kept unless it is less grounded than the draft, so a refine step that
invents a number can never make a row worse than its draft.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from iccgen.unit import UnitContext
from pipelines import grounding
from pipelines.facts import Facts
from pipelines.model_steps import ask
from pipelines.prompts import Prompts

#: the execution log shown to the model is cut here (a dense plot's trace runs to megabytes)
LOG_CHARS = 12_000
NAMES = ("caption", "analysis", "refine")


@dataclass(frozen=True)
class GroundedCaption:
    caption: str
    draft: str
    analysis: str
    chosen: str  # "refined" or "draft"
    draft_score: float
    refined_score: float | None
    #: the chosen caption's check, handed to `realise` so that it is not worked out again
    grounding: grounding.Grounding

    def to_dict(self) -> dict[str, Any]:
        """What a reader of the row needs to see why the caption says what it says."""
        similarity = difflib.SequenceMatcher(None, self.draft, self.caption, autojunk=False).ratio()
        return {"draft": self.draft, "analysis": self.analysis, "chosen": self.chosen,
                "draft_grounding": self.draft_score, "refined_grounding": self.refined_score,
                "similarity_to_draft": round(similarity, 3)}


def execution_log(trace: dict[str, Any]) -> str:
    """The tracer's record of the figure as compact JSON, bounded for a prompt."""
    record = {k: v for k, v in trace.items() if k not in ("image", "summary", "version")}
    text = json.dumps(record, separators=(",", ":"), default=str)
    if len(text) <= LOG_CHARS:
        return text
    return text[:LOG_CHARS] + f" ... [cut: {len(text) - LOG_CHARS} more characters]"


async def draft_caption(ctx: UnitContext, prompts: Prompts, png: bytes) -> str:
    return (await ask(ctx, prompts.render("caption"), png)).text.strip()


async def refine_caption(
    ctx: UnitContext, prompts: Prompts, draft: str, code: str, trace: dict[str, Any],
    facts: Facts, params: dict[str, Any] | None = None,
) -> GroundedCaption:
    """Correct `draft` against the program and its trace (whose `facts` the caller has worked
    out); keep whichever is better grounded."""
    log = execution_log(trace)
    analysis = (await ask(ctx, prompts.render("analysis", code=code.rstrip("\n"), log=log))).text.strip()
    refined = (await ask(ctx, prompts.render("refine", draft=draft, analysis=analysis))).text.strip()
    of_draft = grounding.check(draft, facts, code, params)
    of_refined = grounding.check(refined, facts, code, params) if refined else None
    scores = (of_draft.score, of_refined.score if of_refined else None)
    if of_refined is not None and of_refined.score >= of_draft.score:
        return GroundedCaption(refined, draft, analysis, "refined", *scores, of_refined)
    return GroundedCaption(draft, draft, analysis, "draft", *scores, of_draft)
