"""The global near-duplicate index: exact Hamming-radius search over 64-bit perceptual hashes.

`HammingIndex` answers "is any kept hash within `threshold` bits of this one?" without scanning
everything, by multi-index hashing (Norouzi et al.): the 64 bits are split into m fields; if two
hashes differ in at most T bits, some field differs in at most r = T // m bits (pigeonhole), so
probing each field's buckets within radius r finds every true neighbour. The search is exact for
any data; the data only decides how fast it is. Real plot hashes are biased (white backgrounds:
the DC bit is always 1, low-frequency bits lean one way), so the bits are assigned to fields from
the first 4,096 hashes inserted: dealt round-robin by entropy, then swapped between fields while
that lowers bucket collisions (on rendered plot hashes: 3x fewer candidates than contiguous
fields). Hamming distance is invariant under a bit permutation, so hashes are stored permuted and
each field is a contiguous bit range. At threshold 4 the plan is 3 fields of 21 bits probed
within radius 1, which measured 4-5x fewer candidates than 5 exact 13-bit fields.

Storage is log-structured so inserts stay cheap: rows are appended, the newest few are scanned
directly, and older rows live in immutable segments (per field: row order sorted by key, a
bucket-offset table, and a 32-bit tag of each hash in the same order) that merge into the one
before while it is under 4x their size. A whole batch is searched at once per segment: all its
probed buckets are expanded into one candidate array, filtered on the tags (read in sequence),
and only the few survivors are gathered by row for the exact distance. Ids are a crc32 per row
plus zlib-compressed chunks, decoded only when a crc matches.

Semantics of `admit` (batch = the one-by-one definition, in order): a hash is admitted iff no
entry with a different id is within the threshold, counting entries admitted earlier in the same
batch. Entries of the same id never block each other, so a retried unit re-admits its own ids; an
(id, hash) pair already present is not stored twice. If a retry produced a different hash for an
id, both entries stay until the index is rebuilt from the committed shards (a stale entry can only
cause a spurious rejection, never let a duplicate through).

Sharding (`create_dedup(threshold, shards=S)`): S `DedupIndex` actors each hold the entries
whose id hashes to them; a router actor checks a batch against all S shards in parallel, resolves
in-batch conflicts, then inserts each admitted entry into its shard. The router processes one batch
at a time, and that single serialisation point is what makes check-and-insert exact across
shards: two racing callers can never both admit a near-duplicate pair. Trade-off: memory and
search work scale out with S, writes do not (one router round trip per batch, a few ms), which is
ample here (a single actor checks ~80k hashes/s with a million entries). Routing by hash band
instead would let bands check in parallel without a router, but near pairs can straddle bands,
so it needs every hash replicated into m bands and a cross-shard lock per batch: m times the
memory and a distributed lock, for throughput the pipeline does not need.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass
from math import comb

import numpy as np
import ray

_MAX_FIELDS = 6  # 4 B of row order per field per hash: the 64 B/hash budget allows no more
_MAX_FIELD_BITS = 21  # a segment buckets on at most log2(size) + 1: offsets <= 8 B/row/field
_TAIL_ROWS = 256  # rows scanned directly before they are indexed into a segment
_LEARN_ROWS = 4096  # hashes seen before the bit assignment is learned
_CHUNK = 1024  # admit works in chunks so in-batch conflict search stays small
_ID_CHUNK = 256
# A segment buckets on log2(its size) + 1 bits per field: 2x the offset memory of one bucket
# per row, for ~30% fewer candidates; compressing the ids freed the room.
_EXTRA_BITS = 1
# A segment absorbs the next while it is under 4x its size: fewer, larger segments probe fewer
# coarse buckets (measured 5% faster than 2x at one million, for more merge work).
_MERGE_RATIO = 4


def popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


@dataclass(frozen=True)
class _Plan:
    """Field layout for one threshold: `fields` widths (bits), probe radius `radius` per field."""

    fields: tuple[int, ...]
    radius: int

    @property
    def starts(self) -> tuple[int, ...]:
        return tuple(itertools.accumulate((0,) + self.fields[:-1]))

    @property
    def ends(self) -> tuple[int, ...]:
        return tuple(itertools.accumulate(self.fields))


def _plan(threshold: int, n_ref: int = 1 << 20) -> _Plan:
    """Pick the field count minimising probes plus expected candidates at about n_ref hashes."""
    best: tuple[float, _Plan] | None = None
    for m in range(1, _MAX_FIELDS + 1):
        radius = threshold // m
        widths = [min(_MAX_FIELD_BITS, 64 // m + (i < 64 % m)) for i in range(m)]
        bits = min(widths)
        probes = sum(comb(bits, i) for i in range(radius + 1))
        # A probe costs about as much as ~10 candidate distance checks in numpy.
        cost = m * probes * (10 + n_ref / 2**bits)
        if best is None or cost < best[0]:
            best = (cost, _Plan(tuple(widths), radius))
    assert best is not None
    return best[1]


def _learn_permutation(sample: np.ndarray, plan: _Plan) -> np.ndarray:
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
    cost = [_collisions(k) for k in keys]
    for a, b in itertools.combinations(range(len(members)), 2):
        for i, j in itertools.product(range(len(members[a])), range(len(members[b]))):
            ba, bb = bits[:, members[a][i]], bits[:, members[b][j]]
            ka, kb = keys[a] + ((bb - ba) << i), keys[b] + ((ba - bb) << j)
            ca, cb = _collisions(ka), _collisions(kb)
            if ca + cb < cost[a] + cost[b]:
                members[a][i], members[b][j] = members[b][j], members[a][i]
                keys[a], keys[b], cost[a], cost[b] = ka, kb, ca, cb


def _collisions(keys: np.ndarray) -> int:
    """Summed squared bucket sizes: the expected number of candidates per query."""
    keys = np.sort(keys)
    counts = np.diff(np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True]))
    return int((counts * counts).sum())


class _Permuter:
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


_FLIPS: dict[tuple[int, int], np.ndarray] = {}


def _flips(bits: int, radius: int) -> np.ndarray:
    """Every XOR mask of `bits` bits with at most `radius` ones."""
    key = (bits, radius)
    if key not in _FLIPS:
        masks = [sum(1 << i for i in c) for r in range(min(radius, bits) + 1)
                 for c in itertools.combinations(range(bits), r)]
        _FLIPS[key] = np.array(masks, dtype=np.uint64)
    return _FLIPS[key]


class _Segment:
    """Immutable multi-index over rows [start, start + size) of a (permuted) hash array.

    A segment buckets on the low log2(size) + 1 bits of each field at most, so its offset
    tables cost at most 8 B per row per field; a coarser bucket is a superset of the exact one,
    so the search stays exact. Each field keeps, in bucket order beside the row order, a 32-bit
    tag of each hash (bits outside the field): candidates are screened on it in sequence, where
    gathering every candidate's hash by row was a cache miss each (2x slower at one million).
    A tag distance is a lower bound of the full one, so the screen never drops a true hit.
    """

    def __init__(self, hashes: np.ndarray, start: int, plan: _Plan):
        self.start, self.size = start, len(hashes)
        self.bits = max(1, min(min(plan.fields), int(np.log2(max(self.size, 1))) + _EXTRA_BITS))
        nb = 1 << self.bits
        order, offsets = [], []
        for f, shift in enumerate(plan.starts):
            keys = self.keys(hashes, shift).astype(np.uint32)
            order.append(np.argsort(keys).astype(np.uint32))  # order inside a bucket is free
            edges = np.cumsum(np.bincount(keys, minlength=nb)) + f * self.size
            offsets.append(np.r_[f * self.size, edges].astype(np.uint32))
        self.order = np.concatenate(order)
        self.offsets = np.concatenate(offsets)
        self.tags = np.concatenate([_tag(hashes[o], end) for o, end in
                                    zip(self.order.reshape(len(plan.fields), -1), plan.ends)])

    def keys(self, hashes: np.ndarray, shift: int) -> np.ndarray:
        return (hashes >> np.uint64(shift)) & np.uint64((1 << self.bits) - 1)

    def nbytes(self) -> int:
        return self.order.nbytes + self.offsets.nbytes + self.tags.nbytes

    def hits(self, queries: np.ndarray, stored: np.ndarray, plan: _Plan, threshold: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query index, row, distance) for rows within `threshold` of a query (repeats possible).

        Candidates are rows sharing a bucket within the probe radius in some field; they are
        filtered here, segment by segment, so the large candidate arrays never pile up.
        """
        n_probe = len(_flips(self.bits, plan.radius))
        slot = self._slots(queries, plan).ravel()  # (field, query, probe) order
        lo = self.offsets[slot]
        count = self.offsets[slot + 1] - lo
        full = np.flatnonzero(count)
        if len(full) == 0:
            return _no_hits()
        lo, count = lo[full].astype(np.int32), count[full].astype(np.int32)
        ends = np.cumsum(count, dtype=np.int64)
        # Bucket positions of every candidate as one cumsum of steps: +1 inside a bucket, a jump
        # at each bucket start (cheaper than repeat + arange over ~10^5-10^6 candidates). int32
        # suffices (positions < fields x size) and halves the memory traffic.
        step = np.ones(int(ends[-1]), dtype=np.int32)
        step[0] = lo[0]
        step[ends[:-1]] = lo[1:] - (lo[:-1] + count[:-1] - 1)
        pos = np.cumsum(step, dtype=np.int32)
        # First on the 32 bits after the field, read in bucket order; only the few that pass
        # are gathered by row for the exact distance.
        field_query = full // n_probe
        tags = np.stack([_tag(queries, end) for end in plan.ends]).ravel()
        maybe = np.flatnonzero(popcount(self.tags[pos] ^ np.repeat(tags[field_query], count))
                               <= threshold)
        qi = field_query[np.searchsorted(ends, maybe, side="right")] % len(queries)
        rows = self.order[pos[maybe]].astype(np.int64) + self.start
        dist = popcount(stored[rows] ^ queries[qi]).astype(np.int64)
        near = dist <= threshold
        return qi[near], rows[near], dist[near]

    def _slots(self, queries: np.ndarray, plan: _Plan) -> np.ndarray:
        """Offset-table index of every probed bucket, shape (field, query, probe)."""
        flips = _flips(self.bits, plan.radius)
        keys = np.stack([self.keys(queries, s) for s in plan.starts])
        slot = (keys[:, :, None] ^ flips[None, None, :]).astype(np.int64)
        slot += (np.arange(len(plan.fields)) * ((1 << self.bits) + 1))[:, None, None]
        return slot


def _tag(hashes: np.ndarray, end: int) -> np.ndarray:
    """The 32 bits that follow bit `end` (cyclically): disjoint from a field ending there."""
    end %= 64
    rotated = (hashes >> np.uint64(end)) | (hashes << np.uint64((64 - end) % 64))
    return rotated.astype(np.uint32)


def _no_hits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, empty


class _Rows:
    """Append-only array with modest over-allocation (the memory budget is tight)."""

    def __init__(self, dtype: type = np.uint64) -> None:
        self.data = np.zeros(0, dtype=dtype)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.data):
            grown = np.zeros(max(need, int(len(self.data) * 1.25), 1024), dtype=self.data.dtype)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : need] = values
        self.n = need

    @property
    def view(self) -> np.ndarray:
        return self.data[: self.n]


class _Ids:
    """Row -> id. A Python str per id costs ~80 B and a fixed-width byte array ~27 B (pipeline
    ids), too much beside the index, so each row keeps only a crc32 of its id, which tells
    different ids apart; the ids themselves are zlib-compressed in chunks (~2 B per pipeline
    id) and decoded only when a crc matches (a re-admitted id) or for `nearest`."""

    def __init__(self) -> None:
        self.crc = _Rows(np.uint32)
        self.chunks: list[bytes] = []
        self.tail: list[str] = []
        self._decoded: tuple[int, list[str]] = (-1, [])

    def extend(self, ids: list[str]) -> None:
        self.crc.extend(_crc(ids))
        self.tail.extend(ids)
        while len(self.tail) >= _ID_CHUNK:
            head, self.tail = self.tail[:_ID_CHUNK], self.tail[_ID_CHUNK:]
            self.chunks.append(zlib.compress("\0".join(head).encode()))

    def __getitem__(self, row: int) -> str:
        c, i = divmod(row, _ID_CHUNK)
        if c == len(self.chunks):
            return self.tail[i]
        if self._decoded[0] != c:
            self._decoded = (c, zlib.decompress(self.chunks[c]).decode().split("\0"))
        return self._decoded[1][i]

    def differ(self, rows: np.ndarray, ids: list[str], qi: np.ndarray) -> np.ndarray:
        """Per hit: does stored row `rows[k]` hold an id other than `ids[qi[k]]`?"""
        out = self.crc.view[rows] != _crc([ids[i] for i in qi.tolist()])
        for k in np.flatnonzero(~out).tolist():
            out[k] = self[int(rows[k])] != ids[qi[k]]
        return out

    def nbytes(self) -> int:
        return (self.crc.data.nbytes + sum(len(c) for c in self.chunks)
                + sum(len(i) + 49 for i in self.tail))


def _crc(ids: list[str]) -> np.ndarray:
    return np.array([zlib.crc32(i.encode()) for i in ids], dtype=np.uint32)


class HammingIndex:
    """Exact near-duplicate index over 64-bit hashes: Hamming distance <= threshold."""

    def __init__(self, threshold: int):
        if not 0 <= threshold < 64:
            raise ValueError(f"threshold must be in 0..63 bits, got {threshold}")
        self.threshold = threshold
        self.plan = _plan(threshold)
        self._rows = _Rows()
        self._ids = _Ids()
        self._segments: list[_Segment] = []
        self._indexed = 0  # rows below this are in segments; the rest are scanned directly
        self._permute: _Permuter | None = None

    def __len__(self) -> int:
        return self._rows.n

    def nbytes(self) -> int:
        """Bytes held by the index's arrays and ids (what the memory budget counts)."""
        return self._rows.data.nbytes + self._ids.nbytes() + sum(s.nbytes() for s in self._segments)

    def add(self, ids: list[str], hashes: np.ndarray) -> None:
        """Bulk load without checks (rebuilding from committed shards)."""
        hashes = _as_hashes(ids, hashes)
        self._append(list(ids), self._stored(hashes))

    def admit(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        """Check-and-insert; decisions equal admitting the hashes one by one, in order."""
        return _in_chunks(self._admit_chunk, ids, _as_hashes(ids, hashes))

    def check(self, ids: list[str], hashes: np.ndarray) -> np.ndarray:
        """Per hash: is an entry of another id within the threshold? Inserts nothing."""
        hashes = _as_hashes(ids, hashes)
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
        """(query index, row, distance) for every stored row within the threshold (repeats possible)."""
        stored = self._rows.view
        parts = [s.hits(q, stored, self.plan, self.threshold) for s in self._segments]
        d = popcount(q[:, None] ^ stored[self._indexed :][None, :])
        ti, tr = np.nonzero(d <= self.threshold)
        parts.append((ti, tr + self._indexed, d[ti, tr].astype(np.int64)))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))

    def _append(self, ids: list[str], stored: np.ndarray) -> None:
        self._ids.extend(ids)
        self._rows.extend(stored)
        if self._permute is None and self._rows.n >= _LEARN_ROWS:
            self._learn()
        if self._permute is not None and self._rows.n - self._indexed >= _TAIL_ROWS:
            self._index_tail()

    def _learn(self) -> None:
        order = _learn_permutation(self._rows.view[:_LEARN_ROWS], self.plan)
        self._permute = _Permuter(order)
        self._rows.data[: self._rows.n] = self._permute(self._rows.view)

    def _index_tail(self) -> None:
        n = self._rows.n
        self._segments.append(_Segment(self._rows.view[self._indexed : n], self._indexed, self.plan))
        self._indexed = n
        segments = self._segments
        while len(segments) >= 2 and segments[-2].size < _MERGE_RATIO * segments[-1].size:
            start = segments[-2].start
            segments[-2:] = [_Segment(self._rows.view[start:n], start, self.plan)]


def resolve_batch(
    ids: list[str], q: np.ndarray, blocked: np.ndarray, threshold: int, plan: _Plan
) -> list[bool]:
    """Admit in order: an unblocked hash is admitted unless an earlier admitted one of another
    id in the same batch is within the threshold. `q` may be permuted (distances are not)."""
    admitted = ~blocked
    qi, rows, _ = _Segment(q, 0, plan).hits(q, q, plan, threshold)
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


def _as_hashes(ids: list[str], hashes: np.ndarray) -> np.ndarray:
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if hashes.ndim != 1 or len(hashes) != len(ids):
        raise ValueError(f"need one hash per id: {len(ids)} ids, hashes of shape {hashes.shape}")
    if any("\0" in i for i in ids):
        raise ValueError("ids must not contain NUL (it separates ids in the compressed store)")
    return hashes


def _in_chunks(admit_chunk, ids: list[str], hashes: np.ndarray) -> list[bool]:
    """Admit chunk by chunk: the in-batch conflict search grows with the square of a batch."""
    out: list[bool] = []
    for a in range(0, len(ids), _CHUNK):
        out.extend(admit_chunk(list(ids[a : a + _CHUNK]), hashes[a : a + _CHUNK]))
    return out


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
        self.plan = _plan(threshold)
        self.shards = [DedupIndex.remote(threshold) for _ in range(shards)]

    def admit(self, ids: list[str], hashes: np.ndarray) -> list[bool]:
        return _in_chunks(self._admit_chunk, ids, _as_hashes(ids, hashes))

    def add(self, ids: list[str], hashes: np.ndarray) -> None:
        hashes = _as_hashes(ids, hashes)
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


def create_dedup(threshold: int, shards: int = 1, **actor_options):
    """An actor handle with admit / add / size / nearest: one index, or a router over S shards."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    if shards == 1:
        return DedupIndex.options(**actor_options).remote(threshold)
    return DedupRouter.options(**actor_options).remote(threshold, shards)
