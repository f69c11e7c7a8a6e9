"""UnitWorker: the Ray actor that turns one work unit into one committed shard.

It holds a warm sandbox pool (and, for model pipelines, a model client) for its whole life and
works on the items of a unit concurrently: model calls wait on the network while sandbox runs use
the CPU. The shard is committed by the worker itself, so image bytes never travel to the driver.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import ray

from iccgen.config import JobConfig
from iccgen.journal import Journal, recover
from iccgen.journal_store import JournalStore
from iccgen.schema import to_table
from iccgen.store import ShardStore
from iccgen.unit import Candidate, ItemResult, Kept, Pipeline, UnitContext, UnitSpec, UnitStats
from sandbox import Sandbox


async def work_item(pipeline: Pipeline, ctx: UnitContext, item: int, live: list[int]) -> ItemResult:
    """Draw candidates for one item until one is kept or its attempts run out."""
    rejects: list[tuple[int, str, str]] = []
    evidence: dict[int, Candidate] = {}
    for attempt in range(pipeline.max_attempts()):
        ran = Candidate()
        outcome = await pipeline.attempt(replace(ctx, candidate=ran), item, attempt)
        if isinstance(outcome, Kept):
            live[0] += 1
            return ItemResult(item, attempt + 1, rejects, outcome.triplet, evidence)
        rejects.append((attempt, outcome.reason, outcome.detail))
        evidence[attempt] = ran
        live[1] += 1
    return ItemResult(item, len(rejects), rejects, None, evidence)


async def run_items(
    pipeline: Pipeline, ctx: UnitContext, journal: Journal, todo: list[int], live: list[int]
) -> list[ItemResult]:
    """Work the unit's remaining items concurrently, journaling each as it finishes."""
    gate = asyncio.Semaphore(pipeline.concurrency)

    async def one(item: int) -> ItemResult:
        async with gate:
            result = await work_item(pipeline, ctx, item, live)
        ctx.stats.add(result)
        await journal.add(result)
        return result

    results = await asyncio.gather(*(one(i) for i in todo))
    await journal.flush()
    return results


class UnitWorker:
    """One per core group. Create with `ray.remote(UnitWorker).options(num_cpus=...)`."""

    def __init__(self, job: dict[str, Any], dedup: Any | None):
        self.job = JobConfig.model_validate(job)
        self.dedup = dedup
        self.model: Any | None = None  # built on first use, in this process: keys stay here
        self.store = ShardStore(self.job.out)
        self.sandbox = Sandbox(limits=self.job.sandbox.limits(), workers=self.job.sandbox.workers,
                               unconfined=self.job.sandbox.unconfined)
        self.live: dict[str, list[int]] = {}

    async def run_unit(self, pipeline: Pipeline, spec: UnitSpec) -> dict[str, Any]:
        # Judges ask the model about every candidate, whatever pipeline drew it.
        if (pipeline.needs_model or self.job.qc.judges) and self.model is None:
            from iccgen.model import ModelClient

            self.model = ModelClient(self.job.model)
        recovered = await asyncio.to_thread(recover, self.store, spec)
        stats = UnitStats(usage=recovered.usage, timings=recovered.timings)
        for result in recovered.results:
            stats.add(result)
        done = {r.item for r in recovered.results}
        ctx = UnitContext(spec, self.job, self.sandbox, self.dedup, stats, self.model)
        journal = Journal(self.store, spec, stats, pipeline.journal_every_s)
        live = self.live[spec.key] = [stats.kept, sum(stats.rejects.values())]
        try:
            todo = [i for i in range(spec.items) if i not in done]
            results = recovered.results + await run_items(pipeline, ctx, journal, todo, live)
            rows = [r.triplet for r in sorted(results, key=lambda r: r.item) if r.triplet]
            mode = "confined" if self.sandbox.info()["confined"] else "unconfined"
            for row in rows:
                row.meta["sandbox"] = mode
            summary = {**stats.to_dict(), "pipeline": spec.pipeline, "unit": spec.unit,
                       "items": spec.items, "resumed_items": len(done),
                       "fingerprint": self.job.fingerprint()}
            # Parquet writing is CPU-bound; keep the event loop free for progress polls. The
            # rejects file goes first: the shard's final name stays the unit's one commit marker.
            await asyncio.to_thread(self.store.write_rejects, spec.pipeline, spec.unit, stats.evidence)
            path = await asyncio.to_thread(
                self.store.commit, spec.pipeline, spec.unit, to_table(rows), summary
            )
            await asyncio.to_thread(JournalStore(self.store).remove, spec.pipeline, spec.unit)
            return {"key": spec.key, "path": path, "rows": len(rows), "stats": summary}
        finally:
            self.live.pop(spec.key, None)

    def progress(self) -> dict[str, list[int]]:
        return dict(self.live)

    def close(self) -> None:
        self.sandbox.close()


RemoteUnitWorker = ray.remote(UnitWorker)
