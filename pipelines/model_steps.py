"""Steps every model pipeline shares: ask the model, take its code, execute and repair."""

from __future__ import annotations

import time
from typing import Any

from iccgen.model import ModelClient, Reply, user_message
from iccgen.unit import UnitContext
from pipelines.codeblock import extract_code
from pipelines.prompts import Prompts
from pipelines.execution import execute


class NoCode(Exception):
    """The answer holds no fenced python block (or was cut off before closing it)."""


async def ask(ctx: UnitContext, text: str, image: bytes | None = None) -> Reply:
    """One model call; its tokens, requests and time are charged to the unit."""
    model: ModelClient = ctx.model
    t0 = time.perf_counter()
    reply = await model.chat([user_message(text, (image,) if image else ())])
    ctx.stats.timings["model_s"] += time.perf_counter() - t0
    ctx.stats.usage.update(reply.usage)
    return reply


def code_of(reply: Reply) -> str:
    code = extract_code(reply.text)
    if code is None:
        cut = " (the answer hit max_tokens)" if reply.finish_reason == "length" else ""
        raise NoCode(f"no fenced python block in the answer{cut}: {reply.text[:200]!r}")
    return code


async def run_with_repair(
    ctx: UnitContext, code: str, prompts: Prompts, max_repairs: int
) -> tuple[str, Any, int]:
    """Execute; on failure feed the error back for a full corrected program, boundedly.

    Returns the last program, its result and how many repairs it took."""
    result = await execute(ctx, code)
    repairs = 0
    while not result.ok and repairs < max_repairs:
        repairs += 1
        error = "\n".join(filter(None, (result.error, result.traceback_tail)))
        code = code_of(await ask(ctx, prompts.render("repair", code=code.rstrip("\n"), error=error.strip())))
        result = await execute(ctx, code)
    return code, result, repairs
