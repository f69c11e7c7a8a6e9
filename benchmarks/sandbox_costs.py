"""Where a sandboxed program's CPU goes: the same programs with and without a fork per program.

Runs in one process, the way the pool does (warm-up, `gc.freeze()`), and prints CPU time per
program for: the sandbox's own run code in the warm process (no fork), the first and a second
program in a freshly forked child, an empty child, the confinement, and the cost of one page
fault on this machine. See benchmarks/README.md ("Sandbox").

    .venv/bin/python benchmarks/sandbox_costs.py [--n 48]
"""
from __future__ import annotations

import argparse
import gc
import mmap
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.sandbox import KINDS, programs  # noqa: E402
from sandbox import child, server  # noqa: E402
from sandbox.confine import confine  # noqa: E402
from sandbox.limits import Limits  # noqa: E402

LIMITS = Limits()


def run_program(code: str) -> float:
    """CPU milliseconds of one program through the child's own run code (exec, render, PNG)."""
    t0 = time.process_time()
    report: dict[str, Any] = {"durations": {}}
    child._run(code, False, LIMITS, report)
    if report.get("status") != "ok":
        raise SystemExit(f"a benchmark program failed: {report.get('error')}")
    return (time.process_time() - t0) * 1000


def in_child(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    """What fn returns in a forked child, the child's CPU milliseconds and its minor faults."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, repr(fn()).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, _, usage = os.wait4(pid, 0)
    return eval(data), (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_minflt


def fault_us(cow: bool, size: int = 64 << 20) -> float:
    """Microseconds per first write to a page: zero-fill, or copy-on-write after a fork."""
    region = mmap.mmap(-1, size)
    pages = np.frombuffer(region, dtype=np.uint8)

    def touch() -> float:
        t0 = time.perf_counter()
        pages[::mmap.PAGESIZE] = 1
        return (time.perf_counter() - t0) / (size // mmap.PAGESIZE) * 1e6

    if not cow:
        return touch()
    touch()
    return in_child(touch)[0]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=48, help="programs (a multiple of the 12 kinds)")
    args = ap.parse_args()
    codes = programs(args.n + len(KINDS))
    server.warm_up()
    plan, _, missing = server.decide_plan()
    gc.freeze()
    workdir = Path(os.environ.get("TMPDIR", "/tmp"), f"sandbox-costs-{os.getpid()}")
    workdir.mkdir(mode=0o777, exist_ok=True)
    os.chdir(workdir)

    for code in codes[:len(KINDS)]:
        run_program(code)  # as warm as an in-process worker gets
    warm = mean([run_program(c) for c in codes[:args.n]])

    def two(i: int) -> Callable[[], list[float]]:
        return lambda: [run_program(codes[i]), run_program(codes[i + len(KINDS)])]

    pairs = [in_child(two(i)) for i in range(args.n)]
    singles = [in_child(lambda c=c: run_program(c)) for c in codes[:args.n]]
    empty = [in_child(lambda: 0) for _ in range(20)]

    def confined() -> float:
        t0 = time.process_time()
        confine(LIMITS, plan, str(workdir), os.getppid())
        return (time.process_time() - t0) * 1000

    print(f"{args.n} programs; layers {plan}{' (missing: ' + '; '.join(missing) + ')' if missing else ''}")
    print(f"warm pool process, no fork:        {warm:6.1f} ms CPU per program")
    print(f"fresh child, first program:        {mean([p[0][0] for p in pairs]):6.1f} ms")
    print(f"same child, second program:        {mean([p[0][1] for p in pairs]):6.1f} ms")
    print(f"empty child (fork + exit):         {mean([e[1] for e in empty]):6.1f} ms, "
          f"{mean([e[2] for e in empty]):.0f} minor faults")
    print(f"child running one program, in all: {mean([s[1] for s in singles]):6.1f} ms, "
          f"{mean([s[2] for s in singles]):.0f} minor faults")
    print(f"confinement:                       {mean([in_child(confined)[0] for _ in range(10)]):6.2f} ms")
    print(f"page fault: zero-fill {fault_us(False):.2f} us, copy-on-write {fault_us(True):.2f} us")


if __name__ == "__main__":
    main()
