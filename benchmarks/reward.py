"""GRPO reward throughput: `iccgen.reward` against the released harness's way, same machine.

A GRPO step scores G rollouts for each prompt: here 8 rollouts x 64 prompts (512 rewards).
Prompts are the parameterised STEM programs of benchmarks/sandbox.py; each prompt's rollouts
are 4 right answers (the program, three with a changed colour), 2 wrong ones (another
prompt's program), 1 broken program and 1 answer without a fence, all in prose as a model writes.

  (a) the released harness's way: the program's savefig pointed at a file (replaced, or
      inserted before plt.show(), else appended), a fresh `python` per program with a 30 s
      timeout, the reference rendered the same way once per prompt; the reward from the files:
      fence regex, exec, SSIM and phash of the two images (no trace, so it does less work);
  (b) `iccgen.reward.compute_score_async`: the warm sandbox pool (fork per program, every
      isolation layer on), the tracer on both programs, trace F1s and pixel scores, the
      reference rendered once per prompt (cached).

Both run `--workers` programs at once (default: the CPU count) and take turns on chunks of
`--chunk` prompts, so the load of a shared machine falls on both. Pool start-up is reported
apart: it is paid once per training process.

    .venv/bin/python benchmarks/reward.py [--prompts 64] [--rollouts 8] [--workers 2] [--chunk 8]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iccgen.reward import scorer  # noqa: E402
from iccgen.tracescore import pixel_score  # noqa: E402
from pipelines.codeblock import extract_code, has_python_fence  # noqa: E402

COLOURS = ("tab:red", "tab:green", "tab:purple")


def programs(n: int) -> list[str]:
    """benchmarks/sandbox.py's programs (loaded by path: its module name is the package's)."""
    spec = importlib.util.spec_from_file_location("bench_sandbox", Path(__file__).with_name("sandbox.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.programs(n)


def rollouts(codes: list[str], per_prompt: int) -> list[tuple[int, str]]:
    """(prompt index, answer) for every rollout."""
    out = []
    for i, code in enumerate(codes):
        other = codes[(i + 1) % len(codes)]
        recoloured = [re.sub(r'color="[^"]+"', f'color="{c}"', code, count=1) for c in COLOURS]
        answers = [code, *recoloured, other, codes[(i + 2) % len(codes)],
                   code.replace("import matplotlib.pyplot as plt\n", "import matplotlib.pyplot as plt\nundefined_name()\n", 1), code]
        for k, body in enumerate(answers[:per_prompt]):
            fence = "```python\n" if k != 7 else ""
            end = "```\n" if k != 7 else ""
            out.append((i, f"Here is the program.\n{fence}{body}{end}It draws the figure."))
    return out


# -- (a) the released harness's way -----------------------------------------------------------
def with_savefig(code: str, path: str) -> str:
    lines, done = [], False
    for line in code.splitlines():
        if not done and ("plt.savefig(" in line or "plt.show()" in line):
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(f"{indent}plt.savefig({path!r}, dpi=100)")
            if "plt.show()" in line:
                lines.append(line)
            done = True
        else:
            lines.append(line)
    if not done:
        lines.append(f"plt.savefig({path!r}, dpi=100)")
    return "\n".join(lines) + "\n"


def render_fresh(code: str) -> bytes | None:
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.png")
        Path(d, "program.py").write_text(with_savefig(code, out))
        env = {"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": d,
               "MPLCONFIGDIR": os.environ["BENCH_MPLCONFIGDIR"], "OPENBLAS_NUM_THREADS": "1"}
        try:
            subprocess.run([sys.executable, "program.py"], cwd=d, env=env, capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            return None
        return Path(out).read_bytes() if os.path.exists(out) else None


def released_way(codes: list[str], todo: list[tuple[int, str]], workers: int) -> list[float]:
    prompts = sorted({prompt for prompt, _ in todo})
    with ThreadPoolExecutor(workers) as ex:
        references = dict(zip(prompts, ex.map(render_fresh, [codes[p] for p in prompts])))

        def reward(item: tuple[int, str]) -> float:
            prompt, answer = item
            fmt = float(has_python_fence(answer))
            code = extract_code(answer)
            png = render_fresh(code) if code else None
            if png is None or references[prompt] is None:
                return fmt
            return fmt + 1 + pixel_score(references[prompt], png).similarity

        return list(ex.map(reward, todo))


# -- (b) iccgen.reward ------------------------------------------------------------------------
def iccgen_way(codes: list[str], todo: list[tuple[int, str]], workers: int) -> list[float]:
    shared = scorer(workers=workers)
    futures = [shared.submit(answer, codes[prompt]) for prompt, answer in todo]
    return [f.result()["score"] for f in futures]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--rollouts", type=int, default=8)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--chunk", type=int, default=8, help="prompts per turn of each way")
    args = ap.parse_args()
    from sandbox import doctor
    from sandbox.jail import mpl_cache_dir

    os.environ["BENCH_MPLCONFIGDIR"] = str(mpl_cache_dir())  # (a) gets the same warm font cache
    codes = programs(args.prompts)
    todo = rollouts(codes, args.rollouts)
    print(f"{len(todo)} rewards: {args.rollouts} rollouts x {args.prompts} prompts, "
          f"{args.workers} programs at once, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print("isolation layers:", ", ".join(f"{l.name}={'on' if l.active else 'OFF'}" for l in doctor()))

    t0 = time.perf_counter()
    scorer(workers=args.workers).sandbox.info()
    print(f"pool start (once per process): {time.perf_counter() - t0:.1f} s")
    ways = {"iccgen": iccgen_way, "released": released_way}
    timings, scores = dict.fromkeys(ways, 0.0), {name: [] for name in ways}
    # The ways take turns on chunks of prompts, so the load of a shared machine falls on both.
    for turn, first in enumerate(range(0, args.prompts, args.chunk)):
        chunk = [item for item in todo if first <= item[0] < first + args.chunk]
        order = list(ways) if turn % 2 == 0 else list(reversed(ways))
        for name in order:
            t0 = time.perf_counter()
            scores[name] += ways[name](codes, chunk, args.workers)
            timings[name] += time.perf_counter() - t0
    for name in ways:
        mean = sum(scores[name]) / len(scores[name])
        print(f"{name:9s} {timings[name]:7.1f} s  {len(todo) / timings[name]:6.2f} rewards/s  "
              f"mean reward {mean:.3f}")
    print(f"speed-up (released time / iccgen time): {timings['released'] / timings['iccgen']:.2f}x "
          f"(load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
