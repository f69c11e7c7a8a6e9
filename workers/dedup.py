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

import itertools
import zlib
from dataclasses import dataclass
from math import comb

import numba
import numpy as np
import ray
from numba.extending import intrinsic

# Per field and row a segment holds an 8 B hash and at most 4 B of bucket offsets; with 4 B of
# row order and ~6 B of id per row, 4 fields (58 B at worst) is what the 64 B/hash budget allows.
_MAX_FIELDS = 4
_MAX_FIELD_BITS = 21  # segments key on at most log2(size) bits: wider only pays past 2M hashes
# A probe opens a bucket at a random place (a likely cache miss) while candidates are read in
# sequence, so a probe is priced as 30 candidates of uniform hashes: at threshold 4 any price
# from 10 to 50 picks the 4-field plans that measured fastest at one million.
_PROBE_COST = 30
_TAIL_ROWS = 256  # rows scanned directly before they are indexed into a segment
_LEARN_ROWS = 4096  # hashes seen before the bit assignment is learned
_CHUNK = 1024  # admit works in chunks so in-batch conflict search stays small
_ID_CHUNK = 256
# A segment absorbs the next while it is under 4x its size: fewer, larger segments probe fewer
# buckets, for more merge work.
_MERGE_RATIO = 4


@dataclass(frozen=True)
class _Plan:
    """Field layout for one threshold: `fields` widths (bits) and the probe radius of each.

    Exact when sum(radius + 1) > threshold: a pair farther than its radius in every field
    differs in at least that many bits (pigeonhole).
    """

    fields: tuple[int, ...]
    radii: tuple[int, ...]

    @property
    def starts(self) -> tuple[int, ...]:
        return tuple(itertools.accumulate((0,) + self.fields[:-1]))


def _plan(threshold: int, n_ref: int = 1 << 20) -> _Plan:
    """The layout with the least modelled query cost at about n_ref hashes: for each field
    count, radii as even as pigeonhole allows, and the fields probed one bit wider given a
    width of their own (a radius-1 field wants more bits than an exact one)."""
    plans = []
    for m in range(1, _MAX_FIELDS + 1):
        need = threshold + 1
        radii = tuple(max(0, need // m - 1 + (i < need % m)) for i in range(m))
        wide = sum(r > radii[-1] for r in radii)
        for w in range(1, _MAX_FIELD_BITS + 1) if 0 < wide < m else [0]:
            plans.append(_Plan((w,) * wide + _split(64 - wide * w, m - wide), radii))
    return min(plans, key=lambda p: _cost(p, n_ref))


def _split(bits: int, m: int) -> tuple[int, ...]:
    return tuple(min(_MAX_FIELD_BITS, bits // m + (i < bits % m)) for i in range(m))


def _cost(plan: _Plan, n_ref: int) -> float:
    """Probes plus expected candidates per query, in candidates (uniform hashes)."""
    cost = 0.0
    for width, radius in zip(plan.fields, plan.radii):
        bits = min(width, n_ref.bit_length() - 1)
        cost += sum(comb(bits, i) for i in range(radius + 1)) * (_PROBE_COST + n_ref / 2**bits)
    return cost


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


_FLIPS: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[np.ndarray, np.ndarray]] = {}


def _flips(bits: tuple[int, ...], radii: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
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


class _Segment:
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

    def __init__(self, hashes: np.ndarray, start: int, plan: _Plan):
        self.start, self.size = start, len(hashes)
        cap = max(1, self.size.bit_length() - 1)
        self.bits = np.array([min(w, cap) for w in plan.fields], dtype=np.int64)
        self.shifts = np.array(plan.starts, dtype=np.uint64)
        self.flips, self.n_flips = _flips(tuple(self.bits.tolist()), plan.radii)
        self.radii = np.array(plan.radii, dtype=np.int64)
        self.codes, self.offsets, self.bases, self.rows = _build(hashes, self.shifts, self.bits)

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
        return _collect(_probe, queries, self.shifts, self.bits, self.flips, self.n_flips,
                        self.radii, self.offsets, self.bases, self.codes, self.rows, self.start,
                        threshold)


@intrinsic
def _ctpop(typingctx, x):
    """One popcnt instruction (numba has no popcount of its own)."""
    return x(x), lambda context, builder, sig, args: builder.ctpop(args[0])


@numba.njit(cache=True, nogil=True)
def _key(h, shift, bits):
    return np.int64((h >> shift) & ((np.uint64(1) << np.uint64(bits)) - np.uint64(1)))


@numba.njit(cache=True, nogil=True)
def _build(hashes, shifts, bits):
    """Counting sort of the hashes on each field's key: (codes, offsets, bases, field 0 rows).

    Field f's bucket k is codes[offsets[bases[f] + k] : offsets[bases[f] + k + 1]]. The sort is
    stable, so equal hashes keep their row order in every field.
    """
    n, m = len(hashes), len(shifts)
    bases = np.zeros(m + 1, dtype=np.int64)
    for f in range(m):
        bases[f + 1] = bases[f] + (1 << bits[f]) + 1
    codes = np.empty(m * n, dtype=np.uint64)
    offsets = np.zeros(bases[m], dtype=np.uint32)
    rows = np.empty(n, dtype=np.uint32)
    for f in range(m):
        table = offsets[bases[f] : bases[f + 1]]
        for h in hashes:
            table[_key(h, shifts[f], bits[f]) + 1] += 1
        table[0] = f * n
        for k in range(len(table) - 1):
            table[k + 1] += table[k]
        fill = table[:-1].copy()
        for r in range(n):
            k = _key(hashes[r], shifts[f], bits[f])
            codes[fill[k]] = hashes[r]
            if f == 0:
                rows[fill[k]] = r
            fill[k] += 1
    return codes, offsets, bases, rows


@numba.njit(cache=True, nogil=True)
def _probe(out, queries, shifts, bits, flips, n_flips, radii, offsets, bases, codes, rows, start,
           threshold):
    """Fill `out` with (query, row, distance) for every stored row within `threshold` of a
    query, each pair once; return their count (the caller retries with a larger `out` if short).

    A hit is reported by the first field whose probe reaches it. Field 0 knows its rows; a hit
    first reached in a later field is looked up in field 0's bucket of its hash (all rows
    holding that hash, so only its first occurrence in the later bucket reports).
    """
    n = 0
    for i in range(len(queries)):
        q = queries[i]
        for f in range(len(shifts)):
            key = _key(q, shifts[f], bits[f])
            for j in range(n_flips[f]):
                slot = bases[f] + (key ^ flips[f, j])
                lo, hi = np.int64(offsets[slot]), np.int64(offsets[slot + 1])
                if not _any_near(codes, lo, hi, q, threshold):
                    continue
                for p in range(lo, hi):
                    d = _ctpop(codes[p] ^ q)
                    if d > threshold or _reported_before(codes, p, lo, q, f, shifts, bits, radii):
                        continue
                    if f == 0:
                        n = _emit(out, n, i, start + rows[p], d)
                        continue
                    k0 = _key(codes[p], shifts[0], bits[0])
                    for p0 in range(offsets[k0], offsets[k0 + 1]):
                        if codes[p0] == codes[p]:
                            n = _emit(out, n, i, start + rows[p0], d)
    return n


@numba.njit(cache=True, nogil=True, inline="always")
def _any_near(codes, lo, hi, q, threshold):
    """Is any code in [lo, hi) within the threshold? Almost never: counting without a branch
    lets the loop vectorise, 2-3x faster than deciding candidate by candidate."""
    near = 0
    for p in range(lo, hi):
        near += _ctpop(codes[p] ^ q) <= threshold
    return near > 0


@numba.njit(cache=True, nogil=True)
def _reported_before(codes, p, lo, q, f, shifts, bits, radii):
    """Was the hit at position p already reported: by an earlier field (its key there is within
    that field's probe radius), or, past field 0, by an equal hash earlier in this bucket?"""
    for g in range(f):
        if _ctpop(_key(codes[p] ^ q, shifts[g], bits[g])) <= radii[g]:
            return True
    if f > 0:
        for pp in range(lo, p):
            if codes[pp] == codes[p]:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def _emit(out, n, i, row, d):
    if n < len(out):
        out[n, 0], out[n, 1], out[n, 2] = i, row, d
    return n + 1


@numba.njit(cache=True, nogil=True)
def _scan(out, queries, stored, start, threshold):
    """`_probe` without an index: every (query, row) pair of a few rows (the unindexed tail)."""
    n = 0
    for i in range(len(queries)):
        if not _any_near(stored, 0, len(stored), queries[i], threshold):
            continue
        for r in range(len(stored)):
            d = _ctpop(stored[r] ^ queries[i])
            if d <= threshold:
                n = _emit(out, n, i, start + r, d)
    return n


def _collect(kernel, *args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a hit-emitting kernel, growing its output once if the first guess was short."""
    out = np.empty((1024, 3), dtype=np.int64)
    n = kernel(out, *args)
    if n > len(out):
        out = np.empty((n, 3), dtype=np.int64)
        kernel(out, *args)
    return out[:n, 0], out[:n, 1], out[:n, 2]


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
        self._ids = _Ids()
        self._segments: list[_Segment] = []
        self._indexed = 0  # rows below this are in segments
        self._tail = _Rows()  # rows from _indexed on, scanned directly until there are enough
        self._permute: _Permuter | None = None

    def __len__(self) -> int:
        return self._indexed + self._tail.n

    def nbytes(self) -> int:
        """Bytes held by the index's arrays and ids (what the memory budget counts)."""
        return self._tail.data.nbytes + self._ids.nbytes() + sum(s.nbytes() for s in self._segments)

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
        """(query index, row, distance) for every stored row within the threshold, once each."""
        parts = [s.hits(q, self.threshold) for s in self._segments]
        parts.append(_collect(_scan, q, self._tail.view, self._indexed, self.threshold))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))

    def _append(self, ids: list[str], stored: np.ndarray) -> None:
        self._ids.extend(ids)
        self._tail.extend(stored)
        if self._permute is None and self._tail.n >= _LEARN_ROWS:
            self._learn()
        if self._permute is not None and self._tail.n >= _TAIL_ROWS:
            self._index_tail()

    def _learn(self) -> None:
        order = _learn_permutation(self._tail.view[:_LEARN_ROWS], self.plan)
        self._permute = _Permuter(order)
        self._tail.data[: self._tail.n] = self._permute(self._tail.view)

    def _index_tail(self) -> None:
        segments = self._segments
        segments.append(_Segment(self._tail.view, self._indexed, self.plan))
        self._indexed += self._tail.n
        self._tail = _Rows()
        while len(segments) >= 2 and segments[-2].size < _MERGE_RATIO * segments[-1].size:
            older, newer = segments[-2:]
            merged = np.concatenate([older.hashes(), newer.hashes()])
            segments[-2:] = [_Segment(merged, older.start, self.plan)]


def resolve_batch(
    ids: list[str], q: np.ndarray, blocked: np.ndarray, threshold: int, plan: _Plan
) -> list[bool]:
    """Admit in order: an unblocked hash is admitted unless an earlier admitted one of another
    id in the same batch is within the threshold. `q` may be permuted (distances are not)."""
    admitted = ~blocked
    qi, rows, _ = _Segment(q, 0, plan).hits(q, threshold)
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
        self.shards = [DedupIndex.options(**INDEX_OPTIONS).remote(threshold) for _ in range(shards)]

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
