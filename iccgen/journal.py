"""The journal of a unit in progress: finished items survive a killed job.

As items finish, their results (kept rows, rejects, attempts) are buffered and flushed as small
Parquet segments under `OUT/_work/<pipeline>/part-<unit>/`, each written atomically like a shard.
A resumed unit loads the segments, skips their items and goes on; a torn or corrupt segment is
dropped (its items are simply redone). When the unit commits, its journal is removed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from iccgen.errors import ShardError
from iccgen.schema import from_record, to_table
from iccgen.journal_store import JournalStore
from iccgen.store import ShardStore
from iccgen.unit import ItemResult, UnitSpec, UnitStats


@dataclass
class Recovered:
    results: list[ItemResult] = field(default_factory=list)
    usage: Counter[str] = field(default_factory=Counter)
    timings: Counter[str] = field(default_factory=Counter)
    dropped: list[str] = field(default_factory=list)


def recover(store: ShardStore, spec: UnitSpec) -> Recovered:
    out = Recovered()
    seen: set[int] = set()
    journals = JournalStore(store)
    for path in journals.segments(spec.pipeline, spec.unit):
        try:
            table, record = journals.read_segment(path)
        except ShardError:
            out.dropped.append(path)
            continue
        rows = {r["item"]: from_record(r) for r in table.to_pylist()}
        for item in record.get("items", []):
            if item["item"] in seen:
                continue  # an orphaned worker of a killed driver may have journaled it too
            seen.add(item["item"])
            out.results.append(
                ItemResult(item["item"], item["attempts"], [tuple(r) for r in item["rejects"]],
                           rows.get(item["item"]) if item["kept"] else None)
            )
        # Usage and timings are cumulative per segment: the last readable one has the total.
        out.usage = Counter(record.get("usage", {}))
        out.timings = Counter(record.get("timings", {}))
    return out


class Journal:
    """Buffers finished items and flushes them durably, at most every `every_s` seconds."""

    def __init__(self, store: ShardStore, spec: UnitSpec, stats: UnitStats, every_s: float):
        self.journals, self.spec, self.stats, self.every_s = JournalStore(store), spec, stats, every_s
        self.buffer: list[ItemResult] = []
        self.last = time.monotonic()
        self.lock = asyncio.Lock()

    async def add(self, result: ItemResult) -> None:
        self.buffer.append(result)
        if time.monotonic() - self.last >= self.every_s:
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            if not self.buffer:
                return
            batch, self.buffer = self.buffer, []
            table = to_table([r.triplet for r in batch if r.triplet is not None])
            record = {"items": [r.record() for r in batch], "usage": dict(self.stats.usage),
                      "timings": dict(self.stats.timings)}
            await asyncio.to_thread(
                self.journals.write_segment, self.spec.pipeline, self.spec.unit, table, record
            )
            self.last = time.monotonic()
