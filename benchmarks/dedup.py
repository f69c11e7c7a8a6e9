"""Near-duplicate index at scale: HammingIndex against a naive numpy scan (not a test).

    .venv/bin/python benchmarks/dedup.py                 # 1M hashes, threshold 4
    .venv/bin/python benchmarks/dedup.py --n 100000      # smaller
    .venv/bin/python benchmarks/dedup.py --distances     # the threshold study only

The stream has the clustering of real plot hashes: phashes of the corpus programs
(tests/fixtures/programs) and of their AST mutations, rendered once and cached in
benchmarks/data/plot_phashes.npz, then recombined (bits of two real hashes under a random mask,
which keeps the per-bit bias) and perturbed to reach the count, with ~2% planted near-copies of
earlier hashes. Hashes are check-and-inserted in batches; the naive figure is a full numpy scan
per query of everything kept so far, timed on a few queries every 10 batches, between the index's
batches, so that both see the same load on a shared machine (timed once at the end, a burst of
load on either side moved the ratio 2x), and summed over the stream. Both are timed in process
CPU time: with other jobs on the cores, wall time mostly measured waiting for a core. Decisions
are checked against the naive one-by-one definition on a prefix and on random later positions.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iccgen.hashing import phash_png  # noqa: E402
from pipelines.diversity.mutator import MutationError, mutate  # noqa: E402
from workers.dedup import HammingIndex  # noqa: E402

CACHE = ROOT / "benchmarks" / "data" / "plot_phashes.npz"
PROGRAMS = ROOT / "tests" / "fixtures" / "programs"
NAIVE_EVERY = 10  # batches between two naive timings

# Runs in a child interpreter: each program in a fresh namespace, plt.show() captured as PNG.
_RENDERER = r"""
import base64, io, json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
for line in sys.stdin:
    code = json.loads(line)
    buf = io.BytesIO()
    plt.show = lambda *a, **k: plt.gcf().savefig(buf, format="png", dpi=100)
    try:
        exec(compile(code, "<program>", "exec"), {"__name__": "__main__"})
        out = base64.b64encode(buf.getvalue()).decode() if buf.tell() else None
    except Exception:
        out = None
    plt.close("all")
    print(json.dumps(out), flush=True)
"""


def render(codes: list[str], workers: int = 2) -> list[bytes | None]:
    """PNG of each program (None where it fails), in `workers` warm child interpreters."""
    parts = [codes[k::workers] for k in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-c", _RENDERER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={"MPLBACKEND": "Agg",
                              "PATH": "/usr/bin:/bin"}) for _ in parts]
    outs = [p.communicate("".join(json.dumps(c) + "\n" for c in part))[0].splitlines()
            for p, part in zip(procs, parts)]
    result: list[bytes | None] = [None] * len(codes)
    for k, lines in enumerate(outs):
        for j, line in enumerate(lines):
            png = json.loads(line)
            result[k + j * workers] = base64.b64decode(png) if png else None
    return result


def rendered_hashes(seeds: int = 30) -> dict[str, np.ndarray]:
    """Phashes of each corpus program (`parent`), a one-mutation child (`tiny`) and a
    three-mutation child (`child`) per seed, with the program index of each (`family`)."""
    if CACHE.exists():
        return dict(np.load(CACHE))
    programs = [p.read_text() for p in sorted(PROGRAMS.glob("*.py"))]
    codes, kinds, families = [], [], []
    for f, code in enumerate(programs):
        codes.append(code), kinds.append(0), families.append(f)
        for seed in range(seeds):
            for kind, n_mut in ((1, 1), (2, 3)):
                try:
                    codes.append(mutate(code, np.random.default_rng(seed), n_mut).code)
                except MutationError:
                    continue
                kinds.append(kind), families.append(f)
    pngs = render(codes)
    ok = [i for i, png in enumerate(pngs) if png]
    data = {
        "hash": np.array([phash_png(pngs[i]) for i in ok], dtype=np.uint64),
        "kind": np.array([kinds[i] for i in ok], dtype=np.int8),  # 0 parent, 1 tiny, 2 child
        "family": np.array([families[i] for i in ok], dtype=np.int16),
    }
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, **data)
    return data


def distance_study(data: dict[str, np.ndarray]) -> None:
    """Distances parent↔its tiny change, parent↔3-mutation child, and between distinct programs."""
    h, kind, fam = data["hash"], data["kind"], data["family"]
    parents = {int(f): h[(kind == 0) & (fam == f)][0] for f in np.unique(fam[kind == 0])}
    tiny = _popcount(np.array([h[i] ^ parents[int(fam[i])] for i in np.nonzero(kind == 1)[0]]))
    child = _popcount(np.array([h[i] ^ parents[int(fam[i])] for i in np.nonzero(kind == 2)[0]]))
    pairs = _popcount(h[:, None] ^ h[None, :])
    upper = np.triu(np.ones_like(pairs, dtype=bool), 1)
    across = pairs[upper & (fam[:, None] != fam[None, :])]
    par = np.array(list(parents.values()), dtype=np.uint64)
    distinct = _popcount(par[:, None] ^ par[None, :])[np.triu_indices(len(par), 1)]
    print(f"{len(h)} renderings of {len(parents)} programs")
    for name, d in (("parent vs 1-mutation child", tiny), ("parent vs 3-mutation child", child),
                    ("distinct programs (parents)", distinct),
                    ("different families, all renderings", across)):
        cdf = " ".join(f"<={t}:{np.mean(d <= t):.1%}" for t in (0, 2, 4, 6, 8, 10, 12))
        print(f"  {name:38s} n={len(d):6d} median={np.median(d):4.0f}  {cdf}")


def stream(base: np.ndarray, n: int, threshold: int, rng: np.random.Generator) -> np.ndarray:
    """n hashes clustered like `base`: recombinations plus a few flips, ~2% near-copies."""
    a = base[rng.integers(len(base), size=n)]
    b = base[rng.integers(len(base), size=n)]
    mask = rng.integers(0, 2**63, size=n, dtype=np.uint64) << np.uint64(1)
    out = (a & mask) | (b & ~mask)
    out ^= _random_flips(rng.poisson(2.0, size=n), rng)
    copies = np.nonzero(rng.random(n) < 0.02)[0]
    copies = copies[copies > 0]
    sources = (rng.random(len(copies)) * copies).astype(np.int64)
    out[copies] = out[sources] ^ _random_flips(rng.integers(0, threshold + 1, len(copies)), rng)
    return out


def _random_flips(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flips = np.zeros(len(counts), dtype=np.uint64)
    for _ in range(int(counts.max(initial=0))):
        bit = np.uint64(1) << rng.integers(0, 64, len(counts)).astype(np.uint64)
        flips ^= np.where(counts > 0, bit, np.uint64(0))
        counts = counts - 1
    return flips


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x).astype(np.int64)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def naive_decision(kept: np.ndarray, q: np.uint64, threshold: int) -> bool:
    return not bool((np.bitwise_count(kept ^ q) <= threshold).any())


def naive_time(kept: np.ndarray, queries: np.ndarray, threshold: int) -> float:
    """Seconds per query of the naive decision against `kept`, after an untimed first query:
    a naive scan runs back to back, and the first one after the index's work paid for page
    faults and cold caches (2x the steady state)."""
    naive_decision(kept, queries[0], threshold)
    t0 = time.process_time()
    for q in queries:
        naive_decision(kept, q, threshold)
    return (time.process_time() - t0) / len(queries)


def benchmark(hashes: np.ndarray, threshold: int, batch: int, sample: int) -> None:
    n = len(hashes)
    ids = [f"diversity-u{i // 1000:05d}-i{i % 1000:05d}-v00" for i in range(n)]
    HammingIndex(threshold).admit(ids[:1], hashes[:1])  # numba compiles (or loads) its kernels
    rss0 = _rss_mib()
    index = HammingIndex(threshold)
    admitted = np.zeros(n, dtype=bool)
    elapsed = naive_total = 0.0
    rng = np.random.default_rng(1)
    for k, a in enumerate(range(0, n, batch)):
        t0 = time.process_time()
        admitted[a : a + batch] = index.admit(ids[a : a + batch], hashes[a : a + batch])
        elapsed += time.process_time() - t0
        if k % NAIVE_EVERY == 0:
            queries = hashes[rng.integers(n, size=4)]
            per_query = naive_time(hashes[:a][admitted[:a]], queries, threshold)
            naive_total += per_query * len(hashes[a : a + NAIVE_EVERY * batch])
    rss = _rss_mib() - rss0
    kept = hashes[admitted]
    final = naive_time(kept, hashes[rng.integers(n, size=50)], threshold)

    prefix = min(n, 20_000)
    mismatches = sum(naive_decision(hashes[:i][admitted[:i]], hashes[i], threshold) != admitted[i]
                     for i in range(prefix))
    later = np.random.default_rng(2).integers(prefix, n, size=min(sample, max(n - prefix, 0)))
    mismatches += sum(naive_decision(hashes[:i][admitted[:i]], hashes[i], threshold) != admitted[i]
                      for i in later)

    print(f"threshold {threshold}, {n:,} hashes in batches of {batch}: "
          f"{(~admitted).sum():,} rejected ({(~admitted).mean():.2%}), plan {index.plan}")
    print(f"  HammingIndex   {elapsed:8.1f} s  {n / elapsed:10,.0f} hashes/s  "
          f"{index.nbytes() / n:5.1f} B/hash (arrays + ids; RSS grew {rss * 2**20 / n:.1f} B/hash)")
    print(f"  naive scan     {naive_total:8.1f} s  {n / naive_total:10,.0f} hashes/s  "
          f"(sampled along the stream; {final * 1e3:.2f} ms/query at {len(kept):,} kept)")
    print(f"  speed-up       {naive_total / elapsed:8.1f} x  (from the final size alone, "
          f"N * t(N) / 2: {n * final / 2 / elapsed:.1f} x)")
    print(f"  decisions      {prefix + len(later):,} checked against the naive definition "
          f"(prefix {prefix:,} + {len(later):,} random later), {mismatches} mismatches")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="hashes in the stream")
    ap.add_argument("--threshold", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=2000, help="later positions checked against naive")
    ap.add_argument("--distances", action="store_true", help="print the threshold study and stop")
    args = ap.parse_args()
    data = rendered_hashes()
    distance_study(data)
    if not args.distances:
        hashes = stream(data["hash"], args.n, args.threshold, np.random.default_rng(0))
        benchmark(hashes, args.threshold, args.batch, args.sample)


if __name__ == "__main__":
    main()
