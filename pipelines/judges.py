"""Model judges of a candidate triplet (paper Supp. A): code Q_C, image Q_I, consistency Q_IC.

Each judge is one chat call through `iccgen.model.ModelClient` to any OpenAI-compatible endpoint.
Its verdict is read from a closing "VERDICT: ..." line, or failing that from the one verdict the
answer names. Judges fail closed: an answer that names none, or both, is asked again (the
`reask` prompt) and, still unparsed, rejects the row as `judge:unparsed`; an endpoint that stays
unreachable raises `EndpointError`, which stops the job as any other model call does.
Prompts are versioned files under `prompts/judges/<version>/`, never edited in place; rows
record the version in `qc["judge_prompts"]`.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from iccgen.errors import ModelRequestError
from iccgen.model import ModelClient, user_message
from pipelines import prompts

PROMPT_VERSION = "v1"
#: how often a judge is asked before an unreadable verdict rejects the row
ASKS = 2
RATIONALE_CHARS = 600

JudgeName = Literal["code", "image", "consistency"]


@dataclass(frozen=True)
class Judge:
    name: str
    passing: str  # the verdict that keeps the row
    failing: str
    sees_image: bool
    sees_code: bool


JUDGES: dict[str, Judge] = {
    "code": Judge("code", "qualified", "disqualified", sees_image=False, sees_code=True),
    "image": Judge("image", "pass", "fail", sees_image=True, sees_code=False),
    "consistency": Judge("consistency", "sufficient match", "fundamental mismatch",
                         sees_image=True, sees_code=True),
}


@dataclass(frozen=True)
class Verdict:
    judge: str
    outcome: Literal["pass", "fail", "unparsed"]
    label: str | None = None  # the verdict as the judge wrote it, normalised
    score: int | None = None  # Q_C's 1-5 suitability
    rationale: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "label": self.label, "score": self.score,
                "rationale": self.rationale}


def prompt(judge: Judge, code: str, version: str = PROMPT_VERSION) -> str:
    return prompts.load("judges", version, (judge.name,)).render(judge.name, code=code.rstrip("\n"))


def reask(judge: Judge, version: str = PROMPT_VERSION) -> str:
    return prompts.load("judges", version, ("reask",)).render(
        "reask", passing=judge.passing.title(), failing=judge.failing.title())


def _mentions(text: str, phrase: str) -> bool:
    # "qualified" must not be found inside "disqualified"
    return re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text) is not None


def parse(judge: Judge, text: str) -> Verdict:
    """The verdict in a judge's answer; malformed answers become "unparsed", never an error."""
    lowered = re.sub(r"[*_`#]", "", text.lower())
    choices = (judge.passing, judge.failing)
    pattern = r"verdict\s*[:：-]\s*(" + "|".join(map(re.escape, choices)) + r")(?![a-z])"
    stated = re.findall(pattern, lowered)
    if stated:
        label = stated[-1]
    else:
        named = [c for c in choices if _mentions(lowered, c)]
        label = named[0] if len(named) == 1 else None
    score = re.findall(r"score\s*[:：-]\s*([1-5])(?!\d)", lowered)
    outcome = "unparsed" if label is None else "pass" if label == judge.passing else "fail"
    return Verdict(judge.name, outcome, label, int(score[-1]) if score else None,
                   text.strip()[:RATIONALE_CHARS])


async def ask(model: ModelClient, judge: Judge, code: str, png: bytes, usage: Counter[str]) -> Verdict:
    """One judge's verdict, asked again while unreadable; its tokens and requests are added to
    `usage` (the unit's). An unreachable endpoint raises `EndpointError` (after the client's
    retries): no verdict is never a pass."""
    images = (png,) if judge.sees_image else ()
    messages = [user_message(prompt(judge, code), images)]
    verdict = Verdict(judge.name, "unparsed")
    for _ in range(ASKS):
        try:
            reply = await model.chat(messages, temperature=0.0)
        except ModelRequestError as e:  # this request is refused, and would be again
            return Verdict(judge.name, "unparsed", rationale=f"no answer: {e}"[:RATIONALE_CHARS])
        usage.update(reply.usage)
        verdict = parse(judge, reply.text)
        if verdict.outcome != "unparsed":
            return verdict
        messages += [{"role": "assistant", "content": reply.text}, user_message(reask(judge))]
    return verdict


async def judge_all(
    model: ModelClient, names: list[str], code: str, png: bytes, usage: Counter[str]
) -> list[Verdict]:
    """The named judges, asked concurrently."""
    return list(await asyncio.gather(*(ask(model, JUDGES[n], code, png, usage) for n in names)))
