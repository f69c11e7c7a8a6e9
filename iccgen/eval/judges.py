"""STEM2Code-Eval's two model judges, on the paper's rubrics, each scoring 0-100.

Image judge (reference image first, then the rendering): structure 30, positions and relations
30, text 10, style 20, clarity 10; it is never asked about a program that failed (score 0).
Code judge (reference program and answer): layout and visual attributes 20, quantities 20,
positions 30, relations and stacking 20, code quality 10; asked even when the answer failed or
is empty, as the released harness does. Both run at temperature 0. The prompts are iccgen's own
wording of the rubrics (`pipelines/prompts/eval/<version>/`); the score is read as the released
harness reads it: "Score: N/100", else the last "Score: N".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iccgen.errors import EndpointError, ModelRequestError
from iccgen.model import ModelClient, image_part
from pipelines import prompts

PROMPT_VERSION = "v1"
RATIONALE_CHARS = 400
_TOTAL = re.compile(r"score\W{0,6}(\d{1,3}(?:\.\d+)?)\s*/\s*100", re.IGNORECASE)
_ANY = re.compile(r"score\W{0,6}(\d{1,3}(?:\.\d+)?)", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeScore:
    score: float | None  # 0-100; None when the judge gave no readable score
    rationale: str

    def to_dict(self) -> dict:
        return {"score": self.score, "rationale": self.rationale}


def parse_score(text: str) -> float | None:
    """The total of a judge's answer, clipped to 0-100; None when it names none."""
    found = _TOTAL.findall(text) or _ANY.findall(text)
    return min(100.0, max(0.0, float(found[-1]))) if found else None


def _prompts():
    return prompts.load("eval", PROMPT_VERSION, ("system", "image", "code"))


def _system() -> dict:
    return {"role": "system", "content": _prompts().render("system").strip()}


async def _ask(client: ModelClient, messages: list[dict]) -> JudgeScore:
    try:
        reply = await client.chat(messages, temperature=0.0)
    except ModelRequestError as e:
        return JudgeScore(None, f"refused: {e}"[:RATIONALE_CHARS])
    except EndpointError:
        raise  # the judge is down: the eval stops and resumes later, nothing is scored wrongly
    return JudgeScore(parse_score(reply.text), reply.text.strip()[-RATIONALE_CHARS:])


async def image_score(client: ModelClient, reference_png: bytes, candidate_png: bytes) -> JudgeScore:
    content = [{"type": "text", "text": _prompts().render("image").strip()},
               image_part(reference_png), image_part(candidate_png)]
    return await _ask(client, [_system(), {"role": "user", "content": content}])


async def code_score(client: ModelClient, reference_code: str, candidate_code: str) -> JudgeScore:
    text = _prompts().render("code", reference=reference_code.rstrip("\n"),
                             candidate=candidate_code.rstrip("\n")).strip()
    return await _ask(client, [_system(), {"role": "user", "content": text}])
