"""Does Image Reproduce keep a model endpoint busy? (not a test)

    .venv/bin/python benchmarks/reproduce_busy.py                  # 2,000 seeds, 1 s, capacity 64
    .venv/bin/python benchmarks/reproduce_busy.py --seeds 300      # quicker

The scripted model server of the tests stands in for vLLM: every answer takes a fixed latency
and at most `capacity` requests are served at once (a GPU's batch). A Reproduce job runs on local
Ray against it; the server integrates the number of requests in service over time. The printed
busy ratio is that mean divided by the capacity; 1.0 means the model never waited for the
pipeline. The seeds are small bar charts drawn with PIL into a Parquet table (Hugging Face
layout); the scripted model captions each one, answers a small matplotlib program drawing the
same bars and answers the training-target prompts, so a kept seed costs six model calls (caption,
code, caption analysis and refine, code-target explanation and rewrite) and two sandbox runs (the
run, and the re-execution that checks a kept program reproduces its image), like a real
first-time success.
The similarity thresholds are opened up so that every rendering is kept: keeping is the
expensive path (hash, dedup admission, Parquet).

Besides the ratio it prints the pipeline's rate (seeds/s) and the rate that would keep the
endpoint 90% busy (capacity / (requests per seed x latency)), so a CPU-bound run says how many
cores it would take.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from model_server import ModelServer, Request, reply, targets_answer  # noqa: E402
from rich.console import Console  # noqa: E402

from iccgen.config import JobConfig  # noqa: E402
from iccgen.runner import run_job  # noqa: E402
from pipelines.reproduce.seeds import decode_seed  # noqa: E402

PROGRAM = """import matplotlib.pyplot as plt

heights = {heights}
fig, ax = plt.subplots(figsize=(2.5, 2.0))
ax.bar(range(len(heights)), heights, color="steelblue")
ax.set_ylim(0, 10)
plt.show()
"""


def draw_seed(heights: list[int]) -> bytes:
    im = Image.new("RGB", (250, 200), "white")
    draw = ImageDraw.Draw(im)
    draw.line([(20, 180), (240, 180)], fill="black")
    for i, h in enumerate(heights):
        x = 30 + i * 42
        draw.rectangle([x, 180 - h * 16, x + 30, 180], fill=(70, 130, 180))
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def make_seeds(n: int, folder: Path, rng: np.random.Generator) -> dict[str, list[int]]:
    """A Parquet table of n bar-chart seeds; returns the key of each model image -> its bars."""
    images, by_key = [], {}
    for i in range(n):
        heights = [int(h) for h in rng.integers(1, 10, size=5)]
        png = draw_seed(heights)
        images.append({"bytes": png, "path": f"seed-{i:05d}.png"})
        by_key[hashlib.sha256(decode_seed(png)[0]).hexdigest()] = heights
    pq.write_table(pa.table({"image": images}), folder / "seeds.parquet", row_group_size=100)
    return by_key


def script(by_key: dict[str, list[int]]):
    def answer(request: Request):
        if (plain := targets_answer(request)) is not None:
            return plain
        heights = by_key[hashlib.sha256(request.images[0]).hexdigest()]
        if "A detailed description of the image" not in request.text:
            return reply(f"A bar chart of five blue bars with heights {heights} on a 0-10 axis.")
        return reply("```python\n" + PROGRAM.format(heights=heights) + "```\n")
    return answer


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine (Ray workers are not our children to account)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process: the scripted server's threads and the job's driver."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=1.0, help="seconds per answer")
    ap.add_argument("--capacity", type=int, default=64, help="requests served at once")
    ap.add_argument("--workers", type=int, default=0, help="unit workers (default: one per core)")
    ap.add_argument("--shard-size", type=int, default=50)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        by_key = make_seeds(args.seeds, Path(tmp), np.random.default_rng(0))
        print(f"{args.seeds} seeds drawn in {time.perf_counter() - t0:.1f} s")
        with ModelServer(script(by_key), capacity=args.capacity, latency=args.latency) as server:
            job = JobConfig.model_validate({
                "out": f"{tmp}/out", "pipelines": ["reproduce"], "n": args.seeds,
                "shard_size": args.shard_size, "workers": args.workers,
                "reproduce": {"seeds": f"{tmp}/seeds.parquet", "min_ssim": 0.0,
                              "max_phash_distance": 64},
                "model": {"base_url": server.url, "model": "bench", "concurrency": args.capacity},
                "sandbox": {"figsize": [2.5, 2.0], "dpi": 80},
            })
            cpu0, own0, t0 = machine_cpu_s(), own_cpu_s(), time.perf_counter()
            (result,) = run_job(job, Console(stderr=True))
            wall = time.perf_counter() - t0
            cpu = machine_cpu_s() - cpu0  # workers, sandboxes, driver and this server together
            own = own_cpu_s() - own0
            active = server.present.last - server.present.first  # first request to last answer
            busy = server.busy()
            # Without the first and last tenth: ramp-up (workers starting) and the tail (the last
            # units draining) are fixed costs that a longer job amortises.
            cut = active / 10
            steady = server.in_service.mean(server.present.first + cut, server.present.last - cut)
            demand = server.present.mean()
            requests = server.requests
    ideal = requests * args.latency / args.capacity
    rate = args.seeds / active
    wanted = 0.9 * args.capacity / (requests / args.seeds * args.latency)
    print(f"rows kept {result.rows} / {args.seeds}, rejects {dict(result.rejects)}")
    print(f"requests {requests} in {active:.1f} s from first to last (the endpoint alone needs "
          f"{ideal:.1f} s); job {wall:.1f} s with Ray start")
    print(f"requests waiting or in service, mean: {demand:.1f}")
    print(f"mean requests in flight: {busy:.1f} / {args.capacity}")
    print(f"busy ratio: {busy / args.capacity:.3f}  (target >= 0.9)")
    print(f"busy ratio without the first and last tenth: {steady / args.capacity:.3f}")
    print(f"pipeline: {rate:.1f} seeds/s on {os.cpu_count()} cores, machine CPU "
          f"{cpu / args.seeds * 1000:.0f} ms per seed; 90% busy needs {wanted:.1f} seeds/s, "
          f"about {os.cpu_count() * wanted / rate:.0f} cores at this rate per core")
    print(f"of the CPU per seed, {own / args.seeds * 1000:.0f} ms is this process (the scripted "
          f"server and the job's driver): a real endpoint runs elsewhere")

if __name__ == "__main__":
    main()
