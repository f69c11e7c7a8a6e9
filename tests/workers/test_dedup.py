"""The near-duplicate index: exact against a naive scan, batch = one-by-one, ids re-admit."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from workers.dedup import HammingIndex, create_dedup


def naive_admit(ids: list[str], hashes: np.ndarray, threshold: int) -> list[bool]:
    """The definition: admitted iff no kept entry of another id is within the threshold."""
    kept_ids: list[str] = []
    kept: list[int] = []
    out = []
    for i, h in zip(ids, hashes.tolist()):
        near = np.bitwise_count(np.array(kept, dtype=np.uint64) ^ np.uint64(h)) <= threshold
        ok = not any(n and k != i for n, k in zip(near.tolist(), kept_ids))
        out.append(ok)
        if ok:
            kept_ids.append(i)
            kept.append(h)
    return out


def clustered(n: int, rng: np.random.Generator) -> np.ndarray:
    """Hashes around a few hundred centres with plot-like bias (bit 0 always set)."""
    centres = rng.integers(0, 2**63, 200, dtype=np.uint64) | np.uint64(1)
    out = centres[rng.integers(0, len(centres), n)]
    for _ in range(6):
        bit = np.uint64(1) << rng.integers(1, 64, n).astype(np.uint64)
        out ^= np.where(rng.random(n) < 0.5, bit, np.uint64(0))
    return out


@pytest.mark.parametrize("threshold", [0, 1, 2, 3, 4, 5, 6, 8])  # 1 to 4 fields, mixed radii
def test_admit_equals_naive_scan_on_clustered_hashes(threshold):
    rng = np.random.default_rng(threshold)
    hashes = clustered(5000, rng)  # crosses the learning point and several segment merges
    ids = [f"x{i}" for i in range(len(hashes))]
    index = HammingIndex(threshold)
    got = []
    for a in range(0, len(ids), 700):
        got += index.admit(ids[a : a + 700], hashes[a : a + 700])
    assert got == naive_admit(ids, hashes, threshold)
    assert len(index) == sum(got)
    assert 0 < sum(got) < len(ids)


def test_conflicts_inside_one_batch_resolve_in_order():
    index = HammingIndex(4)
    base = np.uint64(0x0F0F_F0F0_1234_5678)
    hashes = np.array([base, base ^ np.uint64(0b111), base ^ np.uint64(0xFF << 40), base ^ np.uint64(1)])
    assert index.admit(["a", "b", "c", "d"], hashes) == [True, False, True, False]
    assert index.nearest(int(base ^ np.uint64(0b11))) == ("a", 2)
    assert index.nearest(int(base ^ np.uint64(0xFFFF))) is None


def test_a_retried_id_is_readmitted_and_not_stored_twice():
    index = HammingIndex(4)
    h = np.array([123456789, 987654321], dtype=np.uint64)
    assert index.admit(["u1-a", "u1-b"], h) == [True, True]
    assert index.admit(["u1-a", "u1-b"], h) == [True, True]
    assert index.admit(["u1-a"], h[:1] ^ np.uint64(0b11)) == [True]  # re-render moved 2 bits
    assert index.admit(["u2-a"], h[:1]) == [False]
    assert index.admit(["z", "z"], np.array([5, 5], dtype=np.uint64)) == [True, True]
    assert len(index) == 4


def test_add_rebuilds_without_checks_and_then_blocks():
    rng = np.random.default_rng(1)
    hashes = clustered(6000, rng)
    index = HammingIndex(4)
    index.add([f"k{i}" for i in range(len(hashes))], hashes)
    assert len(index) == len(hashes)
    isolated = next(i for i, h in enumerate(hashes)
                    if (np.bitwise_count(hashes ^ h) <= 4).sum() == 1)
    assert index.admit(["new"], hashes[isolated : isolated + 1]) == [False]
    assert index.admit([f"k{isolated}"], hashes[isolated : isolated + 1]) == [True]
    assert index.nearest(int(hashes[isolated])) == (f"k{isolated}", 0)  # from a compressed chunk
    assert index.nbytes() / len(index) < 64


@pytest.mark.parametrize("threshold", [3, 4, 6])
def test_every_id_holding_a_repeated_hash_is_found(threshold):
    """Rebuilt indexes may hold one hash under several ids; a hit first reached past the first
    field is mapped back to its rows through the first field, so check each of them."""
    rng = np.random.default_rng(threshold)
    background = clustered(6000, rng)  # enough rows for indexed segments
    repeated = np.repeat(background[:40], 3)
    hashes = np.concatenate([background, repeated])
    ids = [f"k{i}" for i in range(len(hashes))]
    index = HammingIndex(threshold)
    index.add(ids, hashes)
    flips = np.zeros(len(repeated), dtype=np.uint64)
    for _ in range(threshold):
        flips ^= np.uint64(1) << rng.integers(0, 64, len(flips)).astype(np.uint64)
    queries = repeated ^ flips
    owners = [ids[i // 3] for i in range(len(repeated))]  # first holders: own row comes first
    got = index.check(owners, queries)
    near = np.bitwise_count(hashes[None, :] ^ queries[:, None]) <= threshold
    other = np.array(ids)[None, :] != np.array(owners)[:, None]
    assert got.tolist() == (near & other).any(axis=1).tolist()
    assert got.all()  # each repeated hash has three other holders


def test_ids_with_the_same_crc32_are_still_told_apart():
    index = HammingIndex(4)
    h = np.array([0xDEAD_BEEF_0BAD_F00D], dtype=np.uint64)
    assert index.admit(["plumless"], h) == [True]
    assert index.admit(["buckeroo"], h ^ np.uint64(1)) == [False]  # crc32 collides with plumless
    assert index.admit(["plumless"], h) == [True]
    assert len(index) == 1


def test_threshold_is_validated():
    with pytest.raises(ValueError):
        HammingIndex(64)
    with pytest.raises(ValueError):
        HammingIndex(4).admit(["a"], np.array([1, 2], dtype=np.uint64))
    with pytest.raises(ValueError):
        HammingIndex(4).admit(["a\0b"], np.array([1], dtype=np.uint64))


@pytest.mark.parametrize("shards", [1, 2])
def test_racing_callers_never_both_keep_a_near_duplicate_pair(ray_session, shards):
    ray = ray_session
    index = create_dedup(4, shards=shards)
    rng = np.random.default_rng(shards)
    base = clustered(400, rng)
    pairs = [(base, [f"a{i}" for i in range(len(base))]),
             (base ^ np.uint64(0b101), [f"b{i}" for i in range(len(base))])]
    results: dict[int, list[bool]] = {}

    def caller(k: int) -> None:
        hashes, ids = pairs[k]
        got = []
        for a in range(0, len(ids), 25):
            got += ray.get(index.admit.remote(ids[a : a + 25], hashes[a : a + 25]))
        results[k] = got

    threads = [threading.Thread(target=caller, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not any(a and b for a, b in zip(results[0], results[1]))
    assert ray.get(index.size.remote()) == sum(results[0]) + sum(results[1])
    found = ray.get(index.nearest.remote(int(base[0])))
    assert found is not None and found[1] <= 2
    ray.kill(index)


def test_a_pipeline_driven_without_ray_admits_through_a_local_index(tmp_path, unit_sandbox):
    import asyncio

    from iccgen.config import JobConfig
    from iccgen.journal import Journal
    from iccgen.store import ShardStore
    from iccgen.unit import UnitContext, UnitStats
    from pipelines.registry import get_pipeline
    from workers.dedup import LocalDedup
    from workers.unit_worker import run_items

    job = JobConfig.model_validate({"pipelines": ["solid"], "n": 3, "shard_size": 3, "seed": 4,
                                    "out": str(tmp_path / "out")})
    pipeline = get_pipeline("solid", job)
    spec = pipeline.plan(ShardStore(job.out))[0]

    def run(dedup: LocalDedup) -> tuple[UnitStats, list]:
        ctx = UnitContext(spec, job, unit_sandbox, dedup, UnitStats())
        journal = Journal(ShardStore(job.out), spec, ctx.stats, every_s=1e9)
        return ctx.stats, asyncio.run(run_items(pipeline, ctx, journal, [0, 1, 2], [0, 0]))

    first = LocalDedup(job.dedup.threshold)
    stats, results = run(first)
    kept = [r.triplet for r in results if r.triplet is not None]
    assert kept and len(first.index) == len(kept)
    # The same unit against an index that already holds its images under other ids: each
    # item's first candidate draws the same image again and is rejected as a near-duplicate.
    taken = LocalDedup(job.dedup.threshold)
    taken.index.add([f"other:{t.id}" for t in kept], np.array([t.phash for t in kept], dtype=np.uint64))
    stats, _ = run(taken)
    assert stats.rejects["near_duplicate"] >= len(kept)
    assert all("bits from other:" in s["detail"] for s in stats.reject_samples
               if s["reason"] == "near_duplicate")
