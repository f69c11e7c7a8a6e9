"""Scheduling: a bounded number of units in flight over UnitWorker actors, and what to do when
one fails.

- A unit that raises, or whose worker dies, is tried again; after `quarantine.TRIES` tries it is
  quarantined (recorded in `_job.json`) and the job goes on without it.
- A dead worker is replaced where the cluster still has room for it (a lost node shrinks it).
- A unit whose shard got committed before its reply was lost counts as done.
- A dead dedup index is not a dead worker: the units in flight are stopped (their finished items
  are journaled), the index is rebuilt from the shards and journals, and they go again against
  the new one, with no try counted. Workers are left alone: each unit is sent with the handle.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError, RayTaskError, TaskCancelledError
from rich.console import Console
from rich.markup import escape

from iccgen import quarantine
from iccgen.config import JobConfig
from iccgen.errors import EndpointError
from iccgen.stage import StageResult
from iccgen.store import ShardStore
from iccgen.unit import Pipeline, UnitSpec
from workers.unit_worker import RemoteUnitWorker, committed

POLL_S = 0.5
REBUILD_WAITS_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
PING_S = 30.0  # a dedup index that does not answer a size() in this long is busy, not dead
#: memory a worker reserves per sandbox process (the pool, its children's usual footprint and
#: the worker itself), so a node is not handed more workers than it can hold
MEMORY_PER_SANDBOX = 768 * 1024**2


@dataclass(frozen=True)
class Sent:
    spec: UnitSpec
    slot: int
    worker: Any  # the actor it went to (a slot's worker may have been replaced since)
    tries: int  # failed tries so far
    generation: int  # of the dedup index the unit was sent with


@dataclass
class Run:
    """One stage's dispatch: what is left, how loaded each worker slot is, what went wrong."""

    result: StageResult
    queue: deque[tuple[UnitSpec, int]]  # (unit, failed tries so far)
    load: dict[int, int]  # units in flight per worker slot; a dropped slot is gone from it
    held: dict[str, dict[str, Any]]  # units quarantined by an earlier run, by key
    abort: str | None = None  # why the job must stop (a dead model endpoint)

    def room(self, per_worker: int) -> bool:
        return bool(self.load) and min(self.load.values()) < per_worker


class Dispatcher:
    """Keeps a bounded number of units in flight over a set of UnitWorker actors."""

    def __init__(self, job: JobConfig, store: ShardStore, dedup: Callable[[], Any | None],
                 console: Console | None = None, still_ours: Callable[[], None] = lambda: None):
        """`dedup` builds the job's index from the shards and journals (again, if it dies);
        `still_ours` raises once another driver has taken OUT over: then nothing more is sent."""
        self.job, self.store, self.build_dedup, self.still_ours = job, store, dedup, still_ours
        self.console = console or Console(stderr=True)
        self.dedup = dedup()
        self.generation = 0
        self.rebuilding, self.cancelled = False, set()
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = job.workers or max(1, cpus // job.sandbox.workers)
        self.workers = {slot: self._spawn() for slot in range(count)}
        self.per_worker = max(1, (job.max_in_flight or 2 * count) // count)

    def _spawn(self) -> Any:
        options = dict(num_cpus=self.job.sandbox.workers, max_restarts=0,
                       memory=MEMORY_PER_SANDBOX * self.job.sandbox.workers,
                       scheduling_strategy="SPREAD")
        return RemoteUnitWorker.options(**options).remote(
            self.job.model_dump(mode="json", by_alias=True)
        )

    def live(self) -> tuple[int, int]:
        """Kept and rejected counts of the units in flight, summed over workers."""
        refs = [w.progress.remote() for w in self.workers.values()]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_S)
        kept = rejected = 0
        for ref in ready:
            try:
                for k, r in ray.get(ref).values():
                    kept, rejected = kept + k, rejected + r
            except RayError:
                continue
        return kept, rejected

    def run(self, pipeline: Pipeline, todo: list[UnitSpec], result: StageResult, bar: Any) -> None:
        held = quarantine.held(self.store)
        # A quarantined unit gets one more try in each run.
        queue = deque((s, quarantine.TRIES - 1 if s.key in held else 0) for s in todo)
        run = Run(result, queue, {slot: 0 for slot in self.workers}, held)
        pending: dict[Any, Sent] = {}
        while (queue and run.abort is None) or pending:
            self.still_ours()
            while queue and run.abort is None and not self.rebuilding and run.room(self.per_worker):
                slot = min(run.load, key=run.load.get)
                spec, tries = queue.popleft()
                worker = self.workers[slot]
                ref = worker.run_unit.remote(pipeline, spec, self.dedup)
                pending[ref] = Sent(spec, slot, worker, tries, self.generation)
                run.load[slot] += 1
            done = ray.wait(list(pending), num_returns=1, timeout=POLL_S)[0] if pending else []
            for ref in done:
                sent = pending.pop(ref)
                if sent.slot in run.load:
                    run.load[sent.slot] -= 1
                self._collect(ref, sent, run)
            if self.rebuilding:
                self._rebuild(pending)
            bar(result, *self.live())
        if run.abort:
            raise EndpointError(f"{run.abort}: committed shards are kept and the job resumes")

    def _collect(self, ref: Any, sent: Sent, run: Run) -> None:
        try:
            report = ray.get(ref)
        except RayError as e:
            self._failed(e, sent, run)
        else:
            self._count(report, sent, run)

    def _count(self, report: dict[str, Any], sent: Sent, run: Run) -> None:
        run.result.committed += 1
        run.result.count(report["rows"], report["stats"])
        if sent.spec.key in run.held:
            quarantine.release(self.store, sent.spec.key)

    def _failed(self, error: RayError, sent: Sent, run: Run) -> None:
        cause = (getattr(error, "cause", None) or error) if isinstance(error, RayTaskError) else error
        if isinstance(cause, EndpointError):  # every unit would fail alike: stop the job
            run.result.failed[sent.spec.key] = f"EndpointError: {cause}"
            run.abort = run.abort or str(cause)
            return
        cancelled = isinstance(error, TaskCancelledError) or isinstance(cause, asyncio.CancelledError)
        if not isinstance(error, RayTaskError) and not cancelled:
            self._replace(sent, run.load, error)
        report = committed(self.store, sent.spec)
        if report is not None:  # its worker died between the commit and the reply
            self._count(report, sent, run)
        elif cancelled or self._dedup_lost(sent):
            run.queue.append((sent.spec, sent.tries))  # not the unit's fault: no try counted
        else:
            why = (f"{type(cause).__name__}: {cause}" if isinstance(error, RayTaskError)
                   else f"its worker died: {error}")
            self._retry_or_quarantine(sent, run, why)

    def _retry_or_quarantine(self, sent: Sent, run: Run, why: str) -> None:
        spec, tries = sent.spec, sent.tries + 1
        if tries < quarantine.TRIES:
            self._say("yellow", "retrying", f"{spec.key} (try {tries} failed): {why}")
            run.queue.append((spec, tries))
            return
        this_run = 1 if spec.key in run.held else tries
        quarantine.put(self.store, spec.key, why, this_run)
        run.result.failed[spec.key] = (
            f"quarantined after {this_run} tr{'y' if this_run == 1 else 'ies'}: {why}")
        self._say("red", "quarantined", f"{spec.key}: {why}")

    def _replace(self, sent: Sent, load: dict[int, int], error: RayError) -> None:
        """A new worker in place of a dead one, where the cluster has room left for it."""
        slot = sent.slot
        if self.workers.get(slot) is not sent.worker:
            return  # replaced (or dropped) when another of its units came back
        del self.workers[slot]
        need = self.job.sandbox.workers * (len(self.workers) + 1)
        if self.workers and ray.cluster_resources().get("CPU", 0) < need:
            load.pop(slot, None)
            self._say("yellow", "worker lost", f"({len(self.workers)} left, the cluster shrank): "
                      f"{str(error).splitlines()[0]}")
            return
        self.workers[slot] = self._spawn()

    def _dedup_lost(self, sent: Sent) -> bool:
        """Did the unit fail because the dedup index died? Then a rebuild is started."""
        if self.dedup is None:
            return False
        if self.rebuilding or sent.generation < self.generation:
            return True
        try:
            ray.get(self.dedup.size.remote(), timeout=PING_S)
            return False
        except GetTimeoutError:
            return False
        except RayError as e:
            self._say("yellow", "dedup index lost", f"rebuilding it from the shards and journals: "
                      f"{str(e).splitlines()[0]}")
            self.rebuilding, self.cancelled = True, set()
            return True

    def _rebuild(self, pending: dict[Any, Sent]) -> None:
        """Stop the units still on the old index; once all are back, build the new one.
        A stopped unit journals what it finished, so the rebuild sees every admitted row."""
        if pending:
            for ref in set(pending) - self.cancelled:
                ray.cancel(ref)
                self.cancelled.add(ref)
            return
        try:
            ray.kill(self.dedup)
        except RayError:
            pass
        self.dedup = self._build_again()
        self.generation += 1
        self.rebuilding = False

    def _build_again(self) -> Any:
        """The new index. Ray may place it on the lost node before it has noticed the loss (a
        missed heartbeat takes seconds): then it dies at once, and is built again elsewhere."""
        for wait in REBUILD_WAITS_S:
            try:
                return self.build_dedup()
            except RayError as e:
                self._say("yellow", "dedup index rebuild failed", f"(again in {wait:.0f} s): "
                          f"{str(e).splitlines()[0]}")
                time.sleep(wait)
        return self.build_dedup()

    def _say(self, colour: str, tag: str, text: str) -> None:
        self.console.print(f"[{colour}]{tag}[/{colour}] {escape(text)}", highlight=False)

    def close(self) -> None:
        for w in self.workers.values():
            ray.kill(w)
        if self.dedup is not None:
            ray.kill(self.dedup)
