"""Near-duplicate rate of the solid-geometry templates under the job's dedup threshold (not a test).

    .venv/bin/python benchmarks/solid_variety.py                          # seeds 0..299, difficulty 1
    .venv/bin/python benchmarks/solid_variety.py --families three_view --n 600
    .venv/bin/python benchmarks/solid_variety.py --cache /tmp/solid_phash.json --pairs 5

Every family draws θ from np.random.default_rng(seed) for seed = 0..n-1; each program is
rendered in the sandbox (the job's renderer) and phashed with iccgen.hashing.phash_png. Samples
are taken in the order a mixed job would meet them (seed by seed, family by family), and a sample
is a near-duplicate when its hash lies within the threshold of any earlier sample of any family:
the share the job's DedupIndex would reject. `--cache` keeps phashes by program text, so a rerun
after changing one family renders only that family's programs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iccgen.hashing import phash_png  # noqa: E402
from pipelines.solid import FAMILIES, SolidSample, generate  # noqa: E402
from sandbox import Sandbox  # noqa: E402


def render_all(samples: list[SolidSample], workers: int, cache: dict[str, int]) -> list[int]:
    """phash of every sample's rendering; programs already in `cache` are not rendered again."""
    keys = [hashlib.sha256(s.code.encode()).hexdigest() for s in samples]
    todo = [i for i, k in enumerate(keys) if k not in cache]
    if todo:
        from concurrent.futures import ThreadPoolExecutor

        with Sandbox(workers=workers) as sb, ThreadPoolExecutor(workers * 2) as pool:
            results = pool.map(lambda i: sb.run(samples[i].code), todo)
            for i, r in zip(todo, results):
                if not r.ok:
                    raise RuntimeError(f"{samples[i].template} failed: {r.error}")
                cache[keys[i]] = phash_png(r.png)
    return [cache[k] for k in keys]


def near_duplicates(hashes: np.ndarray, threshold: int) -> list[int | None]:
    """For each hash, the index of the nearest earlier hash within the threshold, or None."""
    out: list[int | None] = [None]
    for i in range(1, len(hashes)):
        dist = np.bitwise_count(np.bitwise_xor(hashes[:i], hashes[i]))
        j = int(dist.argmin())
        out.append(j if dist[j] <= threshold else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="seeds per family (0..n-1)")
    ap.add_argument("--difficulty", type=int, default=1)
    ap.add_argument("--threshold", type=int, default=4, help="the job's dedup Hamming threshold")
    ap.add_argument("--families", nargs="*", default=sorted(FAMILIES))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, help="JSON file of phashes by program text")
    ap.add_argument("--pairs", type=int, default=0, help="print this many colliding pairs per family")
    args = ap.parse_args()

    t0 = time.perf_counter()
    order = [(seed, fam) for seed in range(args.n) for fam in args.families]
    samples = [generate(fam, np.random.default_rng(seed), args.difficulty) for seed, fam in order]
    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}
    before = len(cache)
    hashes = np.array(render_all(samples, args.workers, cache), dtype=np.uint64)
    if args.cache:
        args.cache.write_text(json.dumps(cache))
    dup = near_duplicates(hashes, args.threshold)

    print(f"{len(samples)} samples ({len(cache) - before} rendered) in {time.perf_counter() - t0:.0f} s; "
          f"difficulty {args.difficulty}, threshold {args.threshold}, seeds 0..{args.n - 1}")
    print(f"{'family':<18}{'near-dup':>10}{'rate':>8}{'same family':>13}{'templates hit (earlier <- later)':>36}")
    for fam in args.families:
        idx = [i for i, (_, f) in enumerate(order) if f == fam]
        hits = [i for i in idx if dup[i] is not None]
        same = sum(order[dup[i]][1] == fam for i in hits)
        kinds = Counter(f"{samples[dup[i]].template} <- {samples[i].template}" for i in hits)
        print(f"{fam:<18}{len(hits):>10}{len(hits) / len(idx):>8.1%}{same:>13}   "
              + "; ".join(f"{k} ×{v}" for k, v in kinds.most_common(3)))
        for i in hits[:args.pairs]:
            j = dup[i]
            print(f"    seed {order[i][0]} ~ seed {order[j][0]} ({order[j][1]}), "
                  f"distance {(int(hashes[i]) ^ int(hashes[j])).bit_count()}")
    total = sum(d is not None for d in dup)
    print(f"{'all':<18}{total:>10}{total / len(samples):>8.1%}")


if __name__ == "__main__":
    main()
