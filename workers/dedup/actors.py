"""The index as Ray actors: one index, or a router over S shards partitioned by id.

Sharding (`create_dedup(threshold, shards=S)`): S `DedupIndex` actors each hold the entries
whose id hashes to them; a router actor checks a batch against all S shards in parallel, resolves
in-batch conflicts, then inserts each admitted entry into its shard. The router processes one batch
at a time, and that single serialisation point is what makes check-and-insert exact across
shards: two racing callers can never both admit a near-duplicate pair. Trade-off: memory and
search work scale out with S, writes do not (one router round trip per batch, a few ms), which is
ample here (a single actor checks ~200k hashes/s with a million entries). Routing by hash band
instead would let bands check in parallel without a router, but near pairs can straddle bands,
so it needs every hash replicated into m bands and a cross-shard lock per batch: m times the
memory and a distributed lock, for throughput the pipeline does not need.
"""

from __future__ import annotations

import zlib

import numpy as np
import ray

from workers.dedup.index import HammingIndex, as_hashes, in_chunks, resolve_batch
from workers.dedup.plan import plan_for


def shard_of(id_: str, shards: int) -> int:
    """Stable shard for an id (crc32, not Python's salted hash: every process must agree)."""
    return zlib.crc32(id_.encode()) % shards


class HammingIndexActor:
    """One index in its own process; Ray runs its calls one at a time, so admit is atomic."""

    def __init__(self, threshold: int):
        self.index = HammingIndex(threshold)

    def admit(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        return self.index.admit(ids, hashes)

    def add(self, ids: list[str], hashes: np.ndarray) -> None:
        self.index.add(ids, hashes)

    def check(self, ids: list[str], hashes: np.ndarray) -> np.ndarray:
        return self.index.check(ids, hashes)

    def size(self) -> int:
        return len(self.index)

    def nearest(self, hash_: int) -> tuple[str, int] | None:
        return self.index.nearest(hash_)


class ShardRouter:
    """Serialises check-and-insert over S index shards partitioned by id (see module docstring)."""

    def __init__(self, threshold: int, shards: int):
        self.threshold = threshold
        self.plan = plan_for(threshold)
        self.shards = [DedupIndex.options(**INDEX_OPTIONS).remote(threshold) for _ in range(shards)]

    def admit(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        return in_chunks(self._admit_chunk, ids, as_hashes(ids, hashes))

    def add(self, ids: list[str], hashes: np.ndarray) -> None:
        hashes = as_hashes(ids, hashes)
        ray.get([s.add.remote(*self._part(ids, hashes, list(range(len(ids))), k))
                 for k, s in enumerate(self.shards)])

    def size(self) -> int:
        return sum(ray.get([s.size.remote() for s in self.shards]))

    def nearest(self, hash_: int) -> tuple[str, int] | None:
        found = [f for f in ray.get([s.nearest.remote(hash_) for s in self.shards]) if f]
        return min(found, key=lambda f: f[1]) if found else None

    def _admit_chunk(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        checks = ray.get([s.check.remote(ids, hashes) for s in self.shards])
        admitted = resolve_batch(ids, hashes, np.logical_or.reduce(checks), self.threshold, self.plan)
        keep = [i for i, a in enumerate(admitted) if a]
        inserted = ray.get([s.admit.remote(*self._part(ids, hashes, keep, k))
                            for k, s in enumerate(self.shards)])
        if not all(all(r) for r in inserted):
            raise RuntimeError("a dedup shard refused an entry the router admitted: shards diverged")
        return admitted

    def _part(self, ids: list[str], hashes: np.ndarray, rows: list[int], k: int):
        mine = [i for i in rows if shard_of(ids[i], len(self.shards)) == k]
        return [ids[i] for i in mine], hashes[mine]


DedupIndex = ray.remote(HammingIndexActor)
DedupRouter = ray.remote(ShardRouter)
#: an index needs memory, not a core: taking none, it can always be recreated beside busy
#: workers when its node is lost (a router only relays, so it takes the same)
INDEX_OPTIONS = {"num_cpus": 0, "memory": 512 * 1024**2}


def create_dedup(threshold: int, shards: int = 1, **actor_options):
    """An actor handle with admit / add / size / nearest: one index, or a router over S shards."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    options = {**INDEX_OPTIONS, **actor_options}
    if shards == 1:
        return DedupIndex.options(**options).remote(threshold)
    return DedupRouter.options(**options).remote(threshold, shards)
