"""The global near-duplicate index: exact Hamming-radius search over 64-bit perceptual hashes.

`HammingIndex` answers "is any kept hash within `threshold` bits of this one?" without scanning
everything, by multi-index hashing (Norouzi et al.): the 64 bits are split into disjoint fields,
each probed within its own radius r_f; when sum(r_f + 1) > T, two hashes within T bits are
within r_f in some field (pigeonhole), so the probes find every true neighbour. The search is
exact for any data; the data only decides how fast it is. At threshold 4 the plan is 4 fields
(18, 16, 15, 15 bits) with radii (1, 0, 0, 0): 22 probes per query, against 66 for 3 fields of
21 bits all within radius 1. Opening a bucket costs far more than reading one more candidate in
it, so fewer probes into larger buckets won: 1.5x less index time at one million, measured side
by side (`_plan` models this trade-off for any threshold). Real plot hashes are biased (white
backgrounds: the DC bit is always 1, low-frequency bits lean one way), so the bits are assigned
to fields from the first 4,096 hashes inserted: dealt round-robin by entropy, then swapped
between fields while that lowers bucket collisions (on rendered plot hashes: 3x fewer candidates
than contiguous fields). Hamming distance is invariant under a bit permutation, so hashes are
stored permuted and each field is a contiguous bit range.

Storage is log-structured so inserts stay cheap: rows are appended, the newest few are scanned
directly, and older rows live in immutable segments (per field: the hashes in bucket order and a
bucket-offset table; the row order for the first field only) that merge into the one before
while it is under 4x their size. The probe and scan loops are compiled with numba: a batch's
candidates are read in sequence and decided exactly where they lie, with no candidate arrays and
no gather by row. Ids are a crc32 per row plus zlib-compressed chunks, decoded only when a crc
matches.

Semantics of `admit` (batch = the one-by-one definition, in order): a hash is admitted iff no
entry with a different id is within the threshold, counting entries admitted earlier in the same
batch. Entries of the same id never block each other, so a retried unit re-admits its own ids; an
(id, hash) pair already present is not stored twice. If a retry produced a different hash for an
id, both entries stay until the index is rebuilt from the committed shards (a stale entry can only
cause a spurious rejection, never let a duplicate through).
"""

from __future__ import annotations

import numpy as np

from workers.dedup.ids import Ids, Rows
from workers.dedup.kernels import collect, scan
from workers.dedup.permutation import Permuter, learn_permutation
from workers.dedup.plan import Plan, plan_for
from workers.dedup.segment import Segment

_TAIL_ROWS = 256  # rows scanned directly before they are indexed into a segment
_LEARN_ROWS = 4096  # hashes seen before the bit assignment is learned
_CHUNK = 1024  # admit works in chunks so in-batch conflict search stays small
# A segment absorbs the next while it is under 4x its size: fewer, larger segments probe fewer
# buckets, for more merge work.
_MERGE_RATIO = 4


class HammingIndex:
    """Exact near-duplicate index over 64-bit hashes: Hamming distance <= threshold."""

    def __init__(self, threshold: int):
        if not 0 <= threshold < 64:
            raise ValueError(f"threshold must be in 0..63 bits, got {threshold}")
        self.threshold = threshold
        self.plan = plan_for(threshold)
        self._ids = Ids()
        self._segments: list[Segment] = []
        self._indexed = 0  # rows below this are in segments
        self._tail = Rows()  # rows from _indexed on, scanned directly until there are enough
        self._permute: Permuter | None = None

    def __len__(self) -> int:
        return self._indexed + self._tail.n

    def nbytes(self) -> int:
        """Bytes held by the index's arrays and ids (what the memory budget counts)."""
        return self._tail.data.nbytes + self._ids.nbytes() + sum(s.nbytes() for s in self._segments)

    def add(self, ids: list[str], hashes: np.ndarray) -> None:
        """Bulk load without checks (rebuilding from committed shards)."""
        hashes = as_hashes(ids, hashes)
        self._append(list(ids), self._stored(hashes))

    def admit(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        """Check-and-insert; decisions equal admitting the hashes one by one, in order."""
        return in_chunks(self._admit_chunk, ids, as_hashes(ids, hashes))

    def check(self, ids: list[str], hashes: np.ndarray) -> np.ndarray:
        """Per hash: is an entry of another id within the threshold? Inserts nothing."""
        hashes = as_hashes(ids, hashes)
        q = self._stored(hashes)
        qi, rows, _ = self._hits(q)
        blocked = np.zeros(len(ids), dtype=bool)
        blocked[qi[self._ids.differ(rows, ids, qi)]] = True
        return blocked

    def nearest(self, hash_: int) -> tuple[str, int] | None:
        """The closest entry within the threshold, as (id, distance), or None."""
        qi, rows, dist = self._hits(self._stored(np.array([hash_], dtype=np.uint64)))
        if len(rows) == 0:
            return None
        best = int(np.argmin(dist))
        return self._ids[int(rows[best])], int(dist[best])

    def _admit_chunk(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        q = self._stored(hashes)
        qi, rows, dist = self._hits(q)
        other = self._ids.differ(rows, ids, qi)
        blocked = np.zeros(len(ids), dtype=bool)
        blocked[qi[other]] = True
        present = np.zeros(len(ids), dtype=bool)  # this exact (id, hash) is already stored
        present[qi[~other & (dist == 0)]] = True
        admitted = resolve_batch(ids, q, blocked, self.threshold, self.plan)
        new = [i for i in range(len(ids)) if admitted[i] and not present[i]]
        new = _drop_repeats(ids, hashes, new)
        self._append([ids[i] for i in new], q[new])
        return admitted

    def _stored(self, hashes: np.ndarray) -> np.ndarray:
        return hashes if self._permute is None else self._permute(hashes)

    def _hits(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query index, row, distance) for every stored row within the threshold, once each."""
        parts = [s.hits(q, self.threshold) for s in self._segments]
        parts.append(collect(scan, q, self._tail.view, self._indexed, self.threshold))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))

    def _append(self, ids: list[str], stored: np.ndarray) -> None:
        self._ids.extend(ids)
        self._tail.extend(stored)
        if self._permute is None and self._tail.n >= _LEARN_ROWS:
            self._learn()
        if self._permute is not None and self._tail.n >= _TAIL_ROWS:
            self._index_tail()

    def _learn(self) -> None:
        order = learn_permutation(self._tail.view[:_LEARN_ROWS], self.plan)
        self._permute = Permuter(order)
        self._tail.data[: self._tail.n] = self._permute(self._tail.view)

    def _index_tail(self) -> None:
        segments = self._segments
        segments.append(Segment(self._tail.view, self._indexed, self.plan))
        self._indexed += self._tail.n
        self._tail = Rows()
        while len(segments) >= 2 and segments[-2].size < _MERGE_RATIO * segments[-1].size:
            older, newer = segments[-2:]
            merged = np.concatenate([older.hashes(), newer.hashes()])
            segments[-2:] = [Segment(merged, older.start, self.plan)]


def resolve_batch(
    ids: list[str], q: np.ndarray, blocked: np.ndarray, threshold: int, plan: Plan
) -> list[bool]:
    """Admit in order: an unblocked hash is admitted unless an earlier admitted one of another
    id in the same batch is within the threshold. `q` may be permuted (distances are not)."""
    admitted = ~blocked
    qi, rows, _ = Segment(q, 0, plan).hits(q, threshold)
    near = rows < qi
    earlier: dict[int, set[int]] = {}
    for i, j in zip(qi[near].tolist(), rows[near].tolist()):
        if ids[i] != ids[j]:
            earlier.setdefault(i, set()).add(j)
    for i in sorted(earlier):
        if admitted[i] and any(admitted[j] for j in earlier[i]):
            admitted[i] = False
    return admitted.tolist()


def _drop_repeats(ids: list[str], hashes: np.ndarray, rows: list[int]) -> list[int]:
    """Keep the first of repeated (id, hash) pairs within one batch."""
    if len({ids[i] for i in rows}) == len(rows):
        return rows  # the usual batch: no id twice, so no pair twice
    seen: set[tuple[str, int]] = set()
    out = []
    values = hashes.tolist()
    for i in rows:
        key = (ids[i], values[i])
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out


def as_hashes(ids: list[str], hashes: np.ndarray) -> np.ndarray:
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if hashes.ndim != 1 or len(hashes) != len(ids):
        raise ValueError(f"need one hash per id: {len(ids)} ids, hashes of shape {hashes.shape}")
    if any("\0" in i for i in ids):
        raise ValueError("ids must not contain NUL (it separates ids in the compressed store)")
    return hashes


def in_chunks(admit_chunk, ids: list[str], hashes: np.ndarray) -> list[bool]:
    """Admit chunk by chunk: the in-batch conflict search grows with the square of a batch."""
    out: list[bool] = []
    for a in range(0, len(ids), _CHUNK):
        out.extend(admit_chunk(list(ids[a : a + _CHUNK]), hashes[a : a + _CHUNK]))
    return out
