"""Running a candidate program in the worker's sandbox pool, charged to the unit."""

from __future__ import annotations

import time
from typing import Any

from iccgen.unit import UnitContext


async def execute(ctx: UnitContext, code: str, trace: bool = True) -> Any:
    """The program's `sandbox.ExecResult`; with `trace`, the tracer's record of the figure."""
    t0 = time.perf_counter()
    result = await ctx.sandbox.arun(code, trace=trace)
    ctx.stats.timings["sandbox_s"] += time.perf_counter() - t0
    if ctx.candidate is not None:
        ctx.candidate.code, ctx.candidate.png = code, result.png if result.ok else None
    return result
