"""UnitWorker: the Ray actor that turns one work unit into one committed shard.

It holds a warm sandbox pool (and, for model pipelines, a model client) for its whole life and
works on the items of a unit concurrently: model calls wait on the network while sandbox runs use
the CPU. The shard is committed by the worker itself, so image bytes never travel to the driver.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray

from iccgen.config import JobConfig, SandboxConfig
from iccgen.schema import Triplet, to_table
from iccgen.store import ShardStore
from iccgen.unit import Kept, Pipeline, UnitContext, UnitSpec, UnitStats
from sandbox import Limits, Sandbox


def sandbox_limits(cfg: SandboxConfig) -> Limits:
    return Limits(
        cpu_seconds=cfg.cpu_seconds,
        wall_seconds=cfg.wall_seconds,
        memory_mb=cfg.memory_mb,
        figsize=tuple(cfg.figsize),
        dpi=cfg.dpi,
    )


async def run_items(pipeline: Pipeline, ctx: UnitContext, live: list[int]) -> list[Triplet]:
    """Work every item of the unit; `live` is [kept, rejected] for progress polling."""
    gate = asyncio.Semaphore(pipeline.concurrency)

    async def one(item: int) -> Triplet | None:
        async with gate:
            for attempt in range(pipeline.max_attempts()):
                outcome = await pipeline.attempt(ctx, item, attempt)
                ctx.stats.attempts += 1
                if isinstance(outcome, Kept):
                    ctx.stats.kept += 1
                    live[0] += 1
                    return outcome.triplet
                ctx.stats.reject(item, attempt, outcome)
                live[1] += 1
            ctx.stats.shortfall += 1
            return None

    results = await asyncio.gather(*(one(i) for i in range(ctx.spec.items)))
    return [t for t in results if t is not None]


class UnitWorker:
    """One per core group. Create with `ray.remote(UnitWorker).options(num_cpus=...)`."""

    def __init__(self, job: dict[str, Any], dedup: Any | None):
        self.job = JobConfig.model_validate(job)
        self.dedup = dedup
        self.model: Any | None = None  # built on first use, in this process: keys stay here
        self.store = ShardStore(self.job.out)
        self.sandbox = Sandbox(limits=sandbox_limits(self.job.sandbox), workers=self.job.sandbox.workers)
        self.live: dict[str, list[int]] = {}

    async def run_unit(self, pipeline: Pipeline, spec: UnitSpec) -> dict[str, Any]:
        stats = UnitStats()
        if pipeline.needs_model and self.model is None:
            from iccgen.model import ModelClient

            self.model = ModelClient(self.job.model)
        ctx = UnitContext(spec, self.job, self.sandbox, self.dedup, stats, self.model)
        self.live[spec.key] = [0, 0]
        try:
            rows = await run_items(pipeline, ctx, self.live[spec.key])
            summary = {**stats.to_dict(), "pipeline": spec.pipeline, "unit": spec.unit,
                       "items": spec.items, "fingerprint": self.job.fingerprint()}
            # Parquet writing is CPU-bound; keep the event loop free for progress polls.
            path = await asyncio.to_thread(
                self.store.commit, spec.pipeline, spec.unit, to_table(rows), summary
            )
            return {"key": spec.key, "path": path, "rows": len(rows), "stats": summary}
        finally:
            self.live.pop(spec.key, None)

    def progress(self) -> dict[str, list[int]]:
        return dict(self.live)

    def close(self) -> None:
        self.sandbox.close()


RemoteUnitWorker = ray.remote(UnitWorker)
