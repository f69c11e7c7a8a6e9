"""An immutable multi-index over a run of rows: the older rows of the log-structured index."""

from __future__ import annotations

import itertools

import numpy as np

from workers.dedup.kernels import build, collect, probe
from workers.dedup.plan import Plan

_FLIPS: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[np.ndarray, np.ndarray]] = {}


def flips(bits: tuple[int, ...], radii: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per field, every XOR mask of its `bits` key bits with at most its radius ones (rows of
    a table padded to the longest), and how many each field has."""
    key = (bits, radii)
    if key not in _FLIPS:
        masks = [[sum(1 << i for i in c) for r in range(min(radius, b) + 1)
                  for c in itertools.combinations(range(b), r)] for b, radius in zip(bits, radii)]
        table = np.zeros((len(masks), max(map(len, masks))), dtype=np.int64)
        for f, m in enumerate(masks):
            table[f, : len(m)] = m
        _FLIPS[key] = (table, np.array([len(m) for m in masks], dtype=np.int64))
    return _FLIPS[key]


class Segment:
    """Immutable multi-index over rows [start, start + size) of the (permuted) hashes.

    Per field, the hashes themselves are stored in bucket order (a counting sort on the field's
    key) behind a bucket-offset table, so a probe reads its candidates in sequence and decides
    each exactly there (screening on 32-bit tags, then gathering the survivors by row, let 15x
    more candidates than true hits through, a cache miss each). Only field 0 keeps the row of
    each position: a hit first met in another field finds its row in field 0's bucket of that
    hash, which is rare (true hits) and saves 4 B per row and field.

    A segment buckets on the low log2(size) bits of each field at most, so its offset tables
    cost at most 4 B per row per field; a coarser bucket is a superset of the exact one, so
    the search stays exact.
    """

    def __init__(self, hashes: np.ndarray, start: int, plan: Plan):
        self.start, self.size = start, len(hashes)
        cap = max(1, self.size.bit_length() - 1)
        self.bits = np.array([min(w, cap) for w in plan.fields], dtype=np.int64)
        self.shifts = np.array(plan.starts, dtype=np.uint64)
        self.flips, self.n_flips = flips(tuple(self.bits.tolist()), plan.radii)
        self.radii = np.array(plan.radii, dtype=np.int64)
        self.codes, self.offsets, self.bases, self.rows = build(hashes, self.shifts, self.bits)

    def nbytes(self) -> int:
        return self.codes.nbytes + self.offsets.nbytes + self.rows.nbytes

    def hashes(self) -> np.ndarray:
        """The segment's hashes in row order (what a merge rebuilds from)."""
        out = np.empty(self.size, dtype=np.uint64)
        out[self.rows] = self.codes[: self.size]
        return out

    def hits(self, queries: np.ndarray, threshold: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query index, row, distance) of each stored row within `threshold` of a query, once."""
        return collect(probe, queries, self.shifts, self.bits, self.flips, self.n_flips,
                        self.radii, self.offsets, self.bases, self.codes, self.rows, self.start,
                        threshold)
