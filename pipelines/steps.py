"""Steps every pipeline shares once it has a candidate program: check, hash, admit, explain.

A pipeline draws a candidate (a template, a mutation, a model's answer) and hands it to
`realise`, which turns it into a kept `Triplet` or a `Rejected` with a reason token.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from iccgen.hashing import phash_png
from iccgen.schema import Triplet, triplet_id
from iccgen.unit import Kept, Outcome, Rejected, UnitContext
from pipelines import code_target, grounding, judges, non_answers
from pipelines.checks import check_image, check_texts
from pipelines.execution import execute
from pipelines.facts import Facts, facts_from_trace
from pipelines.prompts import Prompts


async def duplicated(ctx: UnitContext, tid: str, phash: int) -> str | None:
    """Check-and-insert into the job-wide near-duplicate index (keyed by id, so retries pass):
    None when admitted, else which kept row the candidate is too close to."""
    if ctx.dedup is None:
        return None
    decisions = await ctx.dedup.admit([tid], np.array([phash], dtype=np.uint64))
    if decisions[0]:
        return None
    near = await ctx.dedup.nearest(phash)  # a second call, paid only by rejects
    return f"phash {phash:016x}" + (f", {near[1]} bits from {near[0]}" if near else "")


async def judge(ctx: UnitContext, code: str, png: bytes) -> list[judges.Verdict]:
    """The configured model judges (the worker gives every unit a model client when there are)."""
    names = ctx.job.qc.judges
    if not names:
        return []
    t0 = time.perf_counter()
    verdicts = await judges.judge_all(ctx.model, list(names), code, png, ctx.stats.usage)
    ctx.stats.timings["judge_s"] += time.perf_counter() - t0
    return verdicts


async def realise(
    ctx: UnitContext,
    *,
    item: int,
    attempt: int,
    code: str,
    caption: str,
    variant: int = 0,
    result: Any = None,
    qc: dict[str, Any] | None = None,
    explain_with: Prompts | None = None,
    facts: Facts | None = None,
    checked: grounding.Grounding | None = None,
    **fields: Any,
) -> Outcome:
    """Execute (unless `result` is given), check, hash and admit one candidate, then write its
    code target (with the model when `explain_with` holds the targets prompts).

    `facts` (of `result`'s trace) and `checked` (the caption's grounding against them) are
    passed by a caller that has worked them out already."""
    qc = qc or {}
    if result is None:
        result = await execute(ctx, code)
    if not result.ok:
        return Rejected(f"exec:{result.status.value}", result.error)
    rejected = check_image(result.png) or check_texts(result.trace or {}, result.width, result.height)
    if rejected:
        return rejected
    if why := non_answers.no_description(caption):
        return Rejected("no_caption", why)
    if facts is None:
        facts = facts_from_trace(result.trace or {})
    grounded = checked
    if grounded is None:
        grounded = grounding.check(caption, facts, code, fields.get("params"))
    if grounded.claims < ctx.job.qc.min_claims:
        return Rejected("ungraded", f"{grounded.claims} checkable claim(s); [qc] min_claims is "
                        f"{ctx.job.qc.min_claims}")
    if grounded.score is not None and grounded.score < ctx.job.qc.min_grounding:
        return Rejected("ungrounded", "; ".join(grounded.ungrounded))
    phash = phash_png(result.png)
    # The stored program must re-render to the stored image: unseeded randomness or
    # time-dependent output would make the pair a lie for anyone who runs it again.
    again = await execute(ctx, code, trace=False)
    if not again.ok or phash_png(again.png) != phash:
        return Rejected("not_reproducible", again.error)
    verdicts = await judge(ctx, code, result.png)
    failed = [v for v in verdicts if v.outcome == "fail"]
    if failed:
        return Rejected(f"judge:{failed[0].judge}", failed[0].rationale)
    unparsed = [v for v in verdicts if v.outcome == "unparsed"]
    if unparsed:  # a judge that gave no readable verdict passed nothing
        return Rejected("judge:unparsed", f"{unparsed[0].judge}: {unparsed[0].rationale}")
    quality = {**qc, "checks": {"image": "pass", "texts": "pass", "reproducible": True},
               "grounding": grounded.to_dict()}
    if verdicts:
        quality["judges"] = {v.judge: v.to_dict() for v in verdicts}
        quality["judge_prompts"] = judges.PROMPT_VERSION
    tid = triplet_id(ctx.spec.pipeline, ctx.spec.unit, item, variant)
    # Admission comes last: a hash admitted for a candidate that is then dropped would block
    # its look-alikes for the rest of the job.
    if (clash := await duplicated(ctx, tid, phash)) is not None:
        return Rejected("near_duplicate", clash)
    # Written last: the target may cost two model calls, and it never rejects the row.
    if explain_with is not None and ctx.job.targets.uses_prompts():
        fields["meta"] = {**fields.get("meta", {}), "target_prompts": explain_with.version}
    target = None
    if ctx.job.targets.code_targets:
        target, quality["code_target"] = await code_target.write(
            ctx, explain_with, caption, code, result.png, facts, fields.get("params"))
    return Kept(
        Triplet(
            id=tid,
            pipeline=ctx.spec.pipeline,
            png=result.png,
            caption=caption,
            code=code,
            phash=phash,
            width=result.width,
            height=result.height,
            unit=ctx.spec.unit,
            item=item,
            variant=variant,
            attempt=attempt,
            trace=(result.trace or {}).get("summary"),
            qc=quality,
            code_target=target,
            **fields,
        )
    )
