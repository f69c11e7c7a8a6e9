"""Scheduling: a bounded number of units in flight over UnitWorker actors, retried when a worker dies."""

from __future__ import annotations

from collections import deque
from typing import Any

import ray

from iccgen.config import JobConfig
from iccgen.errors import EndpointError
from iccgen.stage import StageResult
from iccgen.unit import Pipeline, UnitSpec
from workers.unit_worker import RemoteUnitWorker

POLL_S = 0.5
UNIT_RETRIES = 2  # a unit whose worker died is tried again this many times


class Dispatcher:
    """Keeps a bounded number of units in flight over a set of UnitWorker actors."""

    def __init__(self, job: JobConfig, dedup: Any | None):
        self.job, self.dedup = job, dedup
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = job.workers or max(1, cpus // job.sandbox.workers)
        self.workers = [self._spawn() for _ in range(count)]
        self.per_worker = max(1, (job.max_in_flight or 2 * count) // count)

    def _spawn(self) -> Any:
        options = dict(num_cpus=self.job.sandbox.workers, max_restarts=0)
        return RemoteUnitWorker.options(**options).remote(
            self.job.model_dump(mode="json", by_alias=True), self.dedup
        )

    def live(self) -> tuple[int, int]:
        """Kept and rejected counts of the units in flight, summed over workers."""
        refs = [w.progress.remote() for w in self.workers]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_S)
        kept = rejected = 0
        for ref in ready:
            try:
                for k, r in ray.get(ref).values():
                    kept, rejected = kept + k, rejected + r
            except ray.exceptions.RayError:
                continue
        return kept, rejected

    def run(self, pipeline: Pipeline, todo: list[UnitSpec], result: StageResult, bar: Any) -> None:
        queue: deque[tuple[UnitSpec, int]] = deque((spec, 0) for spec in todo)
        load = {i: 0 for i in range(len(self.workers))}
        pending: dict[Any, tuple[UnitSpec, int, int]] = {}
        abort: str | None = None
        while (queue and abort is None) or pending:
            while queue and abort is None and min(load.values()) < self.per_worker:
                slot = min(load, key=load.get)
                spec, tries = queue.popleft()
                pending[self.workers[slot].run_unit.remote(pipeline, spec)] = (spec, slot, tries)
                load[slot] += 1
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            for ref in done:
                spec, slot, tries = pending.pop(ref)
                load[slot] -= 1
                abort = self._collect(ref, spec, slot, tries, queue, result) or abort
            bar(result, *self.live())
        if abort:
            raise EndpointError(abort)

    def _collect(self, ref, spec, slot, tries, queue, result: StageResult) -> str | None:
        try:
            report = ray.get(ref)
        except ray.exceptions.RayActorError as e:
            self.workers[slot] = self._spawn()
            if tries < UNIT_RETRIES:
                queue.append((spec, tries + 1))
            else:
                result.failed[spec.key] = f"worker died {tries + 1} times: {e}"
            return None
        except ray.exceptions.RayTaskError as e:
            cause = getattr(e, "cause", None) or e
            result.failed[spec.key] = f"{type(cause).__name__}: {cause}"
            return str(cause) if isinstance(cause, EndpointError) else None
        stats = report["stats"]
        result.committed += 1
        result.rows += report["rows"]
        result.shortfall += stats["shortfall"]
        result.rejects.update(stats["rejects"])
        return None

    def close(self) -> None:
        for w in self.workers:
            ray.kill(w)
