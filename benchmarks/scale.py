"""Planning and resuming jobs of many units: does the driver's side grow linearly, and stay small?

For each size, a Solid job of N units (shard_size 1) is planned by the real planner, and the
committed state of a job killed near its end is made: a tiny one-row shard committed through the
store's own commit path for all but the last 1% of units (no Ray: the benchmark is about the
driver, not the workers), plus leftovers of the kill (temporaries, a journal). Then the driver's
resume is timed as `iccgen run` does it: sweep the leftovers, plan, list what is committed with its
row counts, pick what is left. Each step runs in a fresh process, which reports its peak memory.

    .venv/bin/python benchmarks/scale.py                          # local and S3, 1k/10k/100k
    .venv/bin/python benchmarks/scale.py --backend s3 --s3-max 10000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from iccgen.config import load_config  # noqa: E402
from iccgen.journal_store import JournalStore  # noqa: E402
from iccgen.schema import Triplet, to_table  # noqa: E402
from iccgen.shard_index import committed_rows  # noqa: E402
from iccgen.store import ShardStore  # noqa: E402
from pipelines.registry import get_pipeline  # noqa: E402

WRITERS = 16  # commits at once while building (object stores answer each PUT in a round trip)


def job_for(units: int, out: str):
    return load_config(pipelines=["solid"], n=units, shard_size=1, out=out)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(units: int, out: str) -> dict:
    """The committed state of a job killed with 1% of its units left."""
    store = ShardStore(out)
    specs = get_pipeline("solid", job_for(units, out)).plan(store)
    done = specs[: units - units // 100]

    def commit(spec) -> None:
        row = Triplet(id=f"solid-u{spec.unit:05d}", pipeline="solid", png=b"png", caption="c",
                      code="x", phash=spec.unit, width=1, height=1, unit=spec.unit, item=0)
        store.commit("solid", spec.unit, to_table([row]), {"kept": 1})

    t0 = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(commit, done))
    seconds = time.perf_counter() - t0
    left = specs[len(done)]
    JournalStore(store).write_segment("solid", left.unit, to_table([]), {"items": []})
    JournalStore(store).write_segment("solid", done[0].unit, to_table([]), {"items": []})
    for spec in specs[-2:]:  # what a writer killed between write and rename leaves
        store.fs.create_dir(store.path("solid"), recursive=True)
        with store.fs.open_output_stream(store.path("solid", f".part-{spec.unit:05d}.parquet."
                                                              f"{uuid.uuid4().hex}.tmp")) as f:
            f.write(b"PAR1")
    return {"commit_s": seconds, "committed": len(done)}


def resume(units: int, out: str, per_footer: bool) -> dict:
    """What `iccgen run` does on the driver before it dispatches the first unit of a resume."""
    pipeline = get_pipeline("solid", job_for(units, out))  # imports and config: not the resume
    # pyarrow's Parquet writer imports pandas on first use (3-6 s on this machine): a one-off of
    # the process, not of resuming, so it is paid before the clock starts.
    pq.write_table(pa.table({"warm": [0]}), pa.BufferOutputStream())
    t0, cpu0 = time.perf_counter(), time.process_time()
    store = ShardStore(out)
    swept = store.sweep_temporaries() + JournalStore(store).sweep()
    t1 = time.perf_counter()
    specs = pipeline.plan(store)
    t2 = time.perf_counter()
    if per_footer:  # what resume did before the index: a footer read per committed unit
        done_units = store.committed_units("solid")
        done = {u: store.stats("solid", u).get("kept", 0) for u in sorted(done_units)}
    else:
        done = committed_rows(store, "solid")
    todo = [s for s in specs if s.unit not in done]
    rows = sum(done[s.unit] for s in specs if s.unit in done)
    t3 = time.perf_counter()
    return {"sweep_s": t1 - t0, "plan_s": t2 - t1, "listing_s": t3 - t2, "total_s": t3 - t0,
            "cpu_s": time.process_time() - cpu0,
            "swept": swept, "todo": len(todo), "rows": rows, "peak_mb": peak_mb()}


def child(step: str, units: int, out: str) -> dict:
    cmd = [sys.executable, __file__, "--step", step, "--units", str(units), "--out", out]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if proc.returncode:
        raise SystemExit(f"{step} {units} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.splitlines()[-1])


def start_moto() -> tuple[subprocess.Popen, str]:
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    return proc, f"127.0.0.1:{port}"


def s3_out(endpoint: str) -> str:
    import pyarrow.fs as pafs

    bucket = f"scale-{uuid.uuid4().hex[:8]}"
    pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", allow_bucket_creation=True,
                      region="us-east-1").create_dir(bucket)
    return f"s3://{bucket}/out?endpoint_override={endpoint}&scheme=http"


def measure(units: int, out: str, per_footer_max: int) -> dict:
    built = child("build", units, out)
    cold = child("resume", units, out)  # no index yet: every footer read once, in parallel
    warm = child("resume", units, out)  # the index written by the cold resume
    row = {"units": units, **built, "cold": cold, "warm": warm}
    if units <= per_footer_max:
        row["per_footer"] = child("resume-per-footer", units, out)
    return row


def report(backend: str, row: dict) -> None:
    def timed(r: dict) -> str:
        return f"{r['total_s']:6.2f} s wall, {r['cpu_s']:5.2f} s cpu, {r['peak_mb']:.0f} MB"

    cold, warm = row["cold"], row["warm"]
    old = timed(row["per_footer"]) if "per_footer" in row else "-"
    print(f"{backend:5} {row['units']:>7} units | commit {row['commit_s']:7.1f} s | resume cold "
          f"{timed(cold)} (plan {cold['plan_s']:.2f}, listing {cold['listing_s']:.2f}, sweep "
          f"{cold['sweep_s']:.2f}) | warm {timed(warm)} (listing {warm['listing_s']:.2f}) | "
          f"a footer per unit {old} | todo {warm['todo']}, rows {warm['rows']}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    p.add_argument("--backend", nargs="+", default=["local", "s3"], choices=["local", "s3"])
    p.add_argument("--s3-max", type=int, default=10_000, help="largest job run on S3")
    p.add_argument("--per-footer-max", type=int, default=10_000,
                   help="largest job also resumed the old way, a footer per unit")
    p.add_argument("--step", choices=["build", "resume", "resume-per-footer"], help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.step:
        units = args.units[0]
        result = (build(units, args.out) if args.step == "build"
                  else resume(units, args.out, per_footer=args.step == "resume-per-footer"))
        print(json.dumps(result))
        return
    moto = None
    try:
        for backend in args.backend:
            if backend == "s3" and moto is None:
                moto, endpoint = start_moto()
            for units in args.units:
                if backend == "s3" and units > args.s3_max:
                    continue
                with tempfile.TemporaryDirectory(prefix="iccgen-scale-") as tmp:
                    out = s3_out(endpoint) if backend == "s3" else f"{tmp}/out"
                    report(backend, measure(units, out, args.per_footer_max))
    finally:
        if moto is not None:
            moto.kill()
            moto.wait()


if __name__ == "__main__":
    main()
