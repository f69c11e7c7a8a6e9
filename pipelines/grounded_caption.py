"""Code-grounded captions with a model (paper §3.2, Eq. 6-8): draft -> analysis -> refine.

A draft caption written from the image is fluent but miscounts; the program and its execution
trace settle what was drawn. The model lists the facts they establish (analysis), then corrects
the draft with minimal edits (refine). The grounding check then decides between the two: the
refined caption is kept unless it is less grounded than the draft, or says less than it (fewer
checkable claims, or under half its words), or is no caption at all (a refusal, empty,
off-topic, a one-liner: `pipelines.non_answers`). So a refine step that invents a number, or
answers "I need the image", can never make a row worse than its draft.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from iccgen.unit import UnitContext
from pipelines import grounding, non_answers
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
    draft_score: float | None  # None: the caption makes no checkable claim
    refined_score: float | None
    #: the chosen caption's check, handed to `realise` so that it is not worked out again
    grounding: grounding.Grounding
    #: why the refined caption was not chosen, when it was not
    passed_over: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What a reader of the row needs to see why the caption says what it says."""
        similarity = difflib.SequenceMatcher(None, self.draft, self.caption, autojunk=False).ratio()
        return {"draft": self.draft, "analysis": self.analysis, "chosen": self.chosen,
                "draft_grounding": self.draft_score, "refined_grounding": self.refined_score,
                "similarity_to_draft": round(similarity, 3),
                **({"refine_passed_over": self.passed_over} if self.passed_over else {})}


def execution_log(trace: dict[str, Any]) -> str:
    """The tracer's record of the figure as compact JSON, bounded for a prompt."""
    record = {k: v for k, v in trace.items() if k not in ("image", "summary", "version")}
    if "lines" in record:  # the dense profile is for the checks; the sampled points say enough
        record["lines"] = [{k: v for k, v in ln.items() if k != "profile"} for ln in record["lines"]]
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
    out); the refined caption replaces the draft only where it says as much and is as well
    grounded."""
    log = execution_log(trace)
    analysis = (await ask(ctx, prompts.render("analysis", code=code.rstrip("\n"), log=log))).text.strip()
    refined = (await ask(ctx, prompts.render("refine", draft=draft, analysis=analysis))).text.strip()
    of_draft = grounding.check(draft, facts, code, params)
    of_refined = grounding.check(refined, facts, code, params)
    scores = (of_draft.score, of_refined.score)
    context = "\n".join([draft, analysis, *facts.strings()])
    why = _passed_over(refined, draft, context, of_refined, of_draft)
    if why is None:
        return GroundedCaption(refined, draft, analysis, "refined", *scores, of_refined)
    return GroundedCaption(draft, draft, analysis, "draft", *scores, of_draft, why)


def _passed_over(refined: str, draft: str, context: str, of_refined: grounding.Grounding,
                 of_draft: grounding.Grounding) -> str | None:
    """Why the refined caption may not replace the draft, or None when it may."""
    if why := non_answers.not_a_caption(refined, context):
        return why
    if of_refined.claims < of_draft.claims:
        return f"says less: {of_refined.claims} checkable claims, the draft {of_draft.claims}"
    if len(non_answers.words(refined)) < len(non_answers.words(draft)) / 2:
        return (f"says less: {len(non_answers.words(refined))} words, "
                f"the draft {len(non_answers.words(draft))}")
    if of_draft.score is not None and of_refined.score < of_draft.score:  # claims >= the draft's
        return f"less grounded: {of_refined.score:.3f}, the draft {of_draft.score:.3f}"
    return None
