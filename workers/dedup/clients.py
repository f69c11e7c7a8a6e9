"""The `iccgen.unit.Dedup` a pipeline is handed: the index on a Ray actor, or in this process."""

from __future__ import annotations

from typing import Any

import numpy as np

from workers.dedup.index import HammingIndex


class RemoteDedup:
    """The job's index actor (`create_dedup`), as the worker hands it to its units."""

    def __init__(self, handle: Any):
        self.handle = handle

    async def admit(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        return await self.handle.admit.remote(ids, hashes)

    async def nearest(self, hash_: int) -> tuple[str, int] | None:
        return await self.handle.nearest.remote(hash_)


class LocalDedup:
    """An index in this process, to drive a pipeline without Ray. Each call runs to its end
    without yielding to the event loop, so check-and-insert stays atomic, as on the actor."""

    def __init__(self, threshold: int):
        self.index = HammingIndex(threshold)

    async def admit(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        return self.index.admit(ids, hashes)

    async def nearest(self, hash_: int) -> tuple[str, int] | None:
        return self.index.nearest(hash_)
