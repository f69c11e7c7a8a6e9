"""Work units and the contract between a pipeline and the worker that runs its units.

A work unit is deterministic from the job config: (pipeline, unit index, its inputs, its random
seed). It yields exactly one shard. The worker asks the pipeline for one candidate at a time
(`Pipeline.attempt`) until the item is kept or its attempts run out, so every pipeline gets the
same bounded redraw, statistics and reject accounting for free.
"""

from __future__ import annotations

import time
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from iccgen.schema import Triplet

if TYPE_CHECKING:
    from iccgen.config import JobConfig
    from iccgen.store import ShardStore

# Reject details kept per unit in the shard metadata (counts are always complete).
MAX_REJECT_SAMPLES = 50
# Rejected candidates kept per unit and reason with their program and rendering, in the unit's
# rejects file (`ShardStore.write_rejects`): enough to see a reason, bounded per shard.
EVIDENCE_PER_REASON = 3


@dataclass(frozen=True)
class UnitSpec:
    pipeline: str
    unit: int
    items: int
    seed: int
    inputs: tuple[Any, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.pipeline}/{self.unit:05d}"


@dataclass(frozen=True)
class Kept:
    triplet: Triplet


@dataclass(frozen=True)
class Rejected:
    reason: str  # a short stable token, e.g. "exec:timeout", "dedup", "blank_image"
    detail: str = ""


Outcome = Kept | Rejected


@dataclass
class Candidate:
    """The program an attempt last ran and its rendering (None when it drew nothing).

    Every sandbox run records itself here (`pipelines.execution.execute`), so a reject from any
    step of any pipeline comes with the program and image it judged, and no reject site has to
    remember to attach them."""

    code: str | None = None
    png: bytes | None = None


@dataclass
class ItemResult:
    """How one item ended: its kept triplet (or None: a shortfall) and every rejected attempt."""

    item: int
    attempts: int
    rejects: list[tuple[int, str, str]]  # (attempt, reason, detail)
    triplet: Triplet | None
    #: what each rejected attempt ran, by attempt (not journaled: a resumed item has none)
    evidence: dict[int, Candidate] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The JSON part (the triplet travels as a Parquet row beside it)."""
        return {"item": self.item, "attempts": self.attempts, "rejects": self.rejects,
                "kept": self.triplet is not None}


@dataclass
class UnitStats:
    """What a unit did, stored in its shard's metadata and summed by `iccgen status`."""

    attempts: int = 0
    kept: int = 0
    shortfall: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    reject_samples: list[dict[str, Any]] = field(default_factory=list)
    #: rejected candidates with their program and PNG, EVIDENCE_PER_REASON per reason
    evidence: list[dict[str, Any]] = field(default_factory=list)
    timings: Counter[str] = field(default_factory=Counter)
    usage: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.time)

    def add(self, result: ItemResult) -> None:
        self.attempts += result.attempts
        self.kept += result.triplet is not None
        self.shortfall += result.triplet is None
        for attempt, reason, detail in result.rejects:
            self.rejects[reason] += 1
            if len(self.reject_samples) < MAX_REJECT_SAMPLES:
                self.reject_samples.append(
                    {"item": result.item, "attempt": attempt, "reason": reason, "detail": detail[:500]}
                )
            ran = result.evidence.get(attempt)
            if ran is not None and ran.code is not None and self._room(reason):
                self.evidence.append({"item": result.item, "attempt": attempt, "reason": reason,
                                      "detail": detail, "code": ran.code, "png": ran.png})

    def _room(self, reason: str) -> bool:
        return sum(e["reason"] == reason for e in self.evidence) < EVIDENCE_PER_REASON

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "kept": self.kept,
            "shortfall": self.shortfall,
            "rejects": dict(self.rejects),
            "reject_samples": self.reject_samples,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "usage": dict(self.usage),
            "seconds": round(time.time() - self.started, 3),
            "started": round(self.started, 3),
            "finished": round(time.time(), 3),
        }


class Dedup(Protocol):
    """The job-wide near-duplicate index as a pipeline sees it: check-and-insert, keyed by id
    (so a retried unit re-admits its own ids). `workers.dedup` has one on a Ray actor and one
    in this process, so a pipeline can be driven without Ray."""

    async def admit(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        """Per hash, in order: admitted (and inserted) unless a kept one of another id is near."""

    async def nearest(self, hash_: int) -> tuple[str, int] | None:
        """The closest kept entry within the threshold, as (id, distance bits), or None."""


@dataclass
class UnitContext:
    """Everything a pipeline step may use while working on one unit, inside a worker."""

    spec: UnitSpec
    job: JobConfig
    sandbox: Any  # sandbox.Sandbox; typed loosely so this leaf module needs no sandbox import
    dedup: Dedup | None  # None when dedup is off
    stats: UnitStats
    model: Any | None = None  # iccgen.model.ModelClient for model pipelines
    #: the attempt's own record of what it ran (the worker gives each attempt a fresh one)
    candidate: Candidate | None = None

    def rng(self, item: int, attempt: int) -> np.random.Generator:
        """The candidate's random stream: a function of (seed, pipeline, unit, item, attempt)."""
        tag = zlib.crc32(self.spec.pipeline.encode())
        return np.random.default_rng([self.spec.seed, tag, self.spec.unit, item, attempt])


class Pipeline(ABC):
    """A pipeline plans its units on the driver and draws candidates inside a worker.

    Subclasses are small and picklable: they travel to Ray workers with each unit.
    """

    name: ClassVar[str]
    #: items of one unit worked on concurrently (model pipelines wait on the network)
    concurrency: ClassVar[int] = 2
    #: finished items are journaled at most this often; 0 = after every item (model pipelines,
    #: where an item is worth many GPU-seconds)
    journal_every_s: ClassVar[float] = 2.0
    #: the worker builds an `iccgen.model.ModelClient` from the job's [model] for this pipeline
    needs_model: ClassVar[bool] = False

    def __init__(self, job: JobConfig):
        self.job = job

    def plan(self, store: ShardStore) -> list[UnitSpec]:
        """Split the pipeline's n into units of shard_size items; override to attach inputs."""
        n, size = self.job.n_for(self.name), self.job.shard_size
        return [
            UnitSpec(self.name, u, min(size, n - u * size), self.job.seed)
            for u in range((n + size - 1) // size)
        ]

    def reference_hashes(self, store: ShardStore) -> list[tuple[str, int]]:
        """Images outside this job that kept rows must not duplicate (id, phash)."""
        return []

    def max_attempts(self) -> int:
        return self.job.max_attempts

    @abstractmethod
    async def attempt(self, ctx: UnitContext, item: int, attempt: int) -> Outcome:
        """Draw, execute and check one candidate for `item`; never raise for a bad candidate."""
