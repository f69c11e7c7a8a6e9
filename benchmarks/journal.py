"""Cost of journaling finished items on an uninterrupted job (issue: resume partial shards).

Runs the same solid-geometry job three ways in one invocation, on one local Ray:
  off      journal flushed only at the end of each unit (the old behaviour's cost)
  default  the pipeline's own policy (solid: at most every 2 s)
  every    after every finished item (what model pipelines do)
and prints items/s and the overhead of each against `off`. Usage:
  python benchmarks/journal.py [--n 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# This folder holds sandbox.py, which would shadow the sandbox package: the repo comes first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray  # noqa: E402
from rich.console import Console  # noqa: E402

from iccgen.config import load_config  # noqa: E402
from iccgen.dispatch import Dispatcher  # noqa: E402
from iccgen.runner import connect, load_dedup, prepare_output, run_stage  # noqa: E402
from iccgen.store import ShardStore  # noqa: E402
from pipelines.solid.pipeline import SolidPipeline  # noqa: E402


def variant(every_s: float) -> type[SolidPipeline]:
    return type(f"Solid{every_s}", (SolidPipeline,), {"journal_every_s": every_s})


def timed(cls: type[SolidPipeline], n: int, seed: int) -> float:
    out = tempfile.mkdtemp(prefix="iccgen-journal-bench-")
    job = load_config(pipelines=["solid"], n=n, shard_size=25, seed=seed, out=out)
    store = ShardStore(out)
    prepare_output(store, job)
    dispatcher = Dispatcher(job, store, lambda: load_dedup(store, job, []))
    try:
        t0 = time.perf_counter()
        run_stage(cls(job), store, dispatcher, Console(quiet=True))
        return time.perf_counter() - t0
    finally:
        dispatcher.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    connect(load_config())
    variants = {"off": variant(1e9), "default": SolidPipeline, "every": variant(0.0)}
    timed(SolidPipeline, 10, 999)  # warm the cluster and the font caches
    # Rounds interleave the variants, so load from other users falls on all of them alike.
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate the order
            times[name].append(timed(variants[name], args.n, r))
            print(f"  round {r} {name:8s} {times[name][-1]:6.1f} s", flush=True)
    best = {name: min(ts) for name, ts in times.items()}
    for name, seconds in best.items():
        overhead = seconds / best["off"] - 1
        print(f"{name:8s} {args.n / seconds:6.2f} items/s   overhead vs off: {overhead:+.1%}")
    ray.shutdown()


if __name__ == "__main__":
    main()
