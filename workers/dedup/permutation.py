"""The bit order learned from the first hashes, so biased plot hashes fill the fields evenly."""

from __future__ import annotations

import itertools

import numba
import numpy as np

from workers.dedup.plan import Plan


def learn_permutation(sample: np.ndarray, plan: Plan) -> np.ndarray:
    """Bit order (source bit for each destination bit) that balances fields on `sample`.

    Bits are dealt round-robin to the fields, most informative first (so near-constant bits,
    like the phash DC bit, are spread out or left over), then one pass of pairwise swaps between
    fields keeps every swap that lowers the summed squared bucket sizes (expected candidates).
    """
    bits = ((sample[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    p = bits.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = np.nan_to_num(-(p * np.log2(p) + (1 - p) * np.log2(1 - p)))
    ranked = [int(b) for b in np.argsort(-entropy, kind="stable")][: sum(plan.fields)]
    members: list[list[int]] = [[] for _ in plan.fields]
    f = 0
    for b in ranked:
        while len(members[f]) >= plan.fields[f]:
            f = (f + 1) % len(members)
        members[f].append(b)
        f = (f + 1) % len(members)
    _improve_by_swaps(bits, members)
    order = [b for field in members for b in field]
    return np.array(order + [b for b in range(64) if b not in set(order)], dtype=np.int64)


def _improve_by_swaps(bits: np.ndarray, members: list[list[int]]) -> None:
    # Keys are updated by the swapped bit only (a full recompute per swap was most of the cost).
    keys = [bits[:, m] @ (1 << np.arange(len(m), dtype=np.int64)) for m in members]
    counts = np.zeros(1 << max(map(len, members)), dtype=np.int64)
    cost = [_collisions(k, counts) for k in keys]
    for a, b in itertools.combinations(range(len(members)), 2):
        for i, j in itertools.product(range(len(members[a])), range(len(members[b]))):
            ba, bb = bits[:, members[a][i]], bits[:, members[b][j]]
            ka, kb = keys[a] + ((bb - ba) << i), keys[b] + ((ba - bb) << j)
            ca, cb = _collisions(ka, counts), _collisions(kb, counts)
            if ca + cb < cost[a] + cost[b]:
                members[a][i], members[b][j] = members[b][j], members[a][i]
                keys[a], keys[b], cost[a], cost[b] = ka, kb, ca, cb


@numba.njit(cache=True, nogil=True)
def _collisions(keys, counts):
    """Summed squared bucket sizes (the expected candidates per query), counted in `counts`
    (all zero, and left so): 10x faster than sorting the keys."""
    total = 0
    for k in keys:
        total += 2 * counts[k] + 1  # (c + 1)^2 - c^2
        counts[k] += 1
    for k in keys:
        counts[k] = 0
    return total


class Permuter:
    """Applies a 64-bit permutation with eight byte-indexed lookup tables."""

    def __init__(self, source_of: np.ndarray):
        dest_of = np.empty(64, dtype=np.int64)
        dest_of[source_of] = np.arange(64)
        values = np.arange(256, dtype=np.uint64)
        self._luts = np.zeros((8, 256), dtype=np.uint64)
        for byte in range(8):
            for bit in range(8):
                on = (values >> np.uint64(bit)) & np.uint64(1)
                self._luts[byte] |= on << np.uint64(dest_of[8 * byte + bit])

    def __call__(self, h: np.ndarray) -> np.ndarray:
        out = np.zeros(len(h), dtype=np.uint64)
        for byte in range(8):
            out |= self._luts[byte][(h >> np.uint64(8 * byte)) & np.uint64(0xFF)]
        return out
