"""UnitWorker: the Ray actor that turns one work unit into one committed shard.

It holds a warm sandbox pool (and, for model pipelines, a model client) for its whole life and
works on the items of a unit concurrently: model calls wait on the network while sandbox runs use
the CPU. The shard is committed by the worker itself, so image bytes never travel to the driver.
"""

from __future__ import annotations

import asyncio
import traceback
from dataclasses import replace
from typing import Any

import pyarrow.fs as pafs
import ray

from iccgen.config import JobConfig
from iccgen.errors import CandidateErrors, EndpointError
from iccgen.journal import Journal, recover
from iccgen.journal_store import JournalStore
from iccgen.schema import to_table
from iccgen.store import ShardStore
from iccgen.unit import (Candidate, ItemResult, Kept, Outcome, Pipeline, Rejected, UnitContext,
                         UnitSpec, UnitStats)
from sandbox import Sandbox, SandboxClosed, SandboxStartError
from workers.dedup.clients import RemoteDedup

#: a unit whose candidates raised this many times fails, naming the error: at that rate a bug
#: (a template broken for some θ, an unreadable input) is behind it, not one unlucky candidate
MAX_CANDIDATE_ERRORS = 20
#: raised through, not rejected: the endpoint, the sandbox pool or a Ray actor (the dedup index)
#: is gone, which is no fault of the candidate and would reject every one after it
NOT_THE_CANDIDATE = (EndpointError, SandboxClosed, SandboxStartError, ray.exceptions.RayError)


class Faults:
    """Turns a candidate's unexpected exception into a reject `error:<Type>`, up to a cap."""

    def __init__(self, spec: UnitSpec, stats: UnitStats, cap: int = MAX_CANDIDATE_ERRORS):
        self.spec, self.cap = spec, cap
        # Counted over the whole unit, resumed items too: a rerun must not reset a broken unit.
        self.count = sum(n for reason, n in stats.rejects.items() if reason.startswith("error:"))

    def reject(self, error: Exception) -> Rejected:
        self.count += 1
        reason = f"error:{type(error).__name__}"
        frame = traceback.extract_tb(error.__traceback__)[-1:]
        where = f" (at {frame[0].filename}:{frame[0].lineno} in {frame[0].name})" if frame else ""
        detail = f"{error}{where}"
        if self.count >= self.cap:
            raise CandidateErrors(
                f"{self.spec.key}: {self.count} candidates raised an exception, the last "
                f"{reason}: {detail[:500]}; fix the pipeline or its inputs and run again"
            ) from error
        return Rejected(reason, detail)


async def draw(pipeline: Pipeline, ctx: UnitContext, item: int, attempt: int, faults: Faults) -> Outcome:
    """One candidate; one that raises is a reject with its reason, not a failed unit."""
    try:
        return await pipeline.attempt(ctx, item, attempt)
    except NOT_THE_CANDIDATE:
        raise
    except Exception as e:  # noqa: BLE001 - any bug in one candidate, reported as its reject
        return faults.reject(e)


async def work_item(
    pipeline: Pipeline, ctx: UnitContext, item: int, live: list[int], faults: Faults
) -> ItemResult:
    """Draw candidates for one item until one is kept or its attempts run out."""
    rejects: list[tuple[int, str, str]] = []
    evidence: dict[int, Candidate] = {}
    for attempt in range(pipeline.max_attempts()):
        ran = Candidate()
        outcome = await draw(pipeline, replace(ctx, candidate=ran), item, attempt, faults)
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
    """Work the unit's remaining items concurrently, journaling each as it finishes. The first
    item that fails cancels the others; what finished before is journaled all the same."""
    gate = asyncio.Semaphore(pipeline.concurrency)
    faults = Faults(ctx.spec, ctx.stats)

    async def one(item: int) -> ItemResult:
        async with gate:
            result = await work_item(pipeline, ctx, item, live, faults)
        ctx.stats.add(result)
        await journal.add(result)
        return result

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i)) for i in todo]
    except BaseExceptionGroup as failed:
        raise first(failed) from None
    finally:
        await journal.flush()
    return [t.result() for t in tasks]


def first(group: BaseExceptionGroup) -> BaseException:
    """The error that failed the unit (the others arose while its siblings were cancelled), so
    the driver sees an EndpointError as itself, not wrapped in a group."""
    found = group.exceptions[0]
    return first(found) if isinstance(found, BaseExceptionGroup) else found


def committed(store: ShardStore, spec: UnitSpec) -> dict[str, Any] | None:
    """The report of a unit whose shard exists already, read from its metadata: a unit whose
    reply was lost (its worker died after the commit) is reported, never run again."""
    path = store.shard_path(spec.pipeline, spec.unit)
    if store.fs.get_file_info(path).type != pafs.FileType.File:
        return None
    stats = store.stats(spec.pipeline, spec.unit)
    JournalStore(store).remove(spec.pipeline, spec.unit)  # left if the worker died after commit
    return report(spec, path, stats)


def report(spec: UnitSpec, path: str, stats: dict[str, Any]) -> dict[str, Any]:
    """What the driver gets back for a committed unit, whether made now or found committed."""
    return {"key": spec.key, "path": path, "rows": stats.get("kept", 0), "stats": stats}


class UnitWorker:
    """One per core group. Create with `ray.remote(UnitWorker).options(num_cpus=...)`."""

    def __init__(self, job: dict[str, Any]):
        self.job = JobConfig.model_validate(job)
        self.model: Any | None = None  # built on first use, in this process: keys stay here
        self.store = ShardStore(self.job.out)
        self.sandbox = Sandbox(limits=self.job.sandbox.limits(), workers=self.job.sandbox.workers,
                               unconfined=self.job.sandbox.unconfined)
        self.live: dict[str, list[int]] = {}

    async def run_unit(self, pipeline: Pipeline, spec: UnitSpec, dedup: Any | None) -> dict[str, Any]:
        """Make and commit the unit's shard, admitting its rows into `dedup` (the handle comes
        with each unit: the driver replaces a lost index without touching the workers)."""
        done = await asyncio.to_thread(committed, self.store, spec)
        return done if done is not None else await self._run(pipeline, spec, dedup)

    async def _run(self, pipeline: Pipeline, spec: UnitSpec, dedup: Any | None) -> dict[str, Any]:
        # Judges ask the model about every candidate, whatever pipeline drew it.
        if (pipeline.needs_model or self.job.qc.judges) and self.model is None:
            from iccgen.model import ModelClient

            self.model = ModelClient(self.job.model)
        recovered = await asyncio.to_thread(recover, self.store, spec)
        stats = UnitStats(usage=recovered.usage, timings=recovered.timings)
        for result in recovered.results:
            stats.add(result)
        done = {r.item for r in recovered.results}
        index = RemoteDedup(dedup) if dedup is not None else None
        ctx = UnitContext(spec, self.job, self.sandbox, index, stats, self.model)
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
            return report(spec, path, summary)
        finally:
            self.live.pop(spec.key, None)

    def progress(self) -> dict[str, list[int]]:
        return dict(self.live)

    def close(self) -> None:
        self.sandbox.close()


RemoteUnitWorker = ray.remote(UnitWorker)
