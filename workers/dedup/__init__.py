"""The job-wide near-duplicate index (see `index` for how it works, `actors` for Ray)."""

from workers.dedup.actors import DedupIndex, DedupRouter, create_dedup
from workers.dedup.clients import LocalDedup, RemoteDedup
from workers.dedup.index import HammingIndex

__all__ = ["DedupIndex", "DedupRouter", "HammingIndex", "LocalDedup", "RemoteDedup", "create_dedup"]
