"""Sandbox throughput: the same STEM programs run three ways, two at a time.

  (a) a fresh `python program.py` per program (what peers do),
  (b) the sandbox pool with every isolation layer this machine allows,
  (c) unsandboxed in-process exec, in two warm worker processes (the limit).

Every program ends with plt.savefig, so each way renders each figure once. Pool and worker
start-up is reported apart from throughput: it is paid once per worker process, not per program.
The three ways take turns on chunks of 20 programs, so load from other users of a shared
machine is spread over all three instead of skewing whichever happened to run then. Each way's
CPU time is also counted (this process and every process below it, read from /proc), which
load from others moves far less than programs per second.

    .venv/bin/python benchmarks/sandbox.py [--n 200] [--workers 2]

`--programs DIR` runs other people's scripts instead (every `*.py` under DIR that uses
matplotlib, e.g. a tutorial's `scripts/`). They save to their own paths or call plt.show(), so
each way runs the same text: a prologue that counts savefig calls and an epilogue that saves
the current figure when the script saved none. Every way then renders every figure at least
once; the sandbox renders the one it keeps.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox import Sandbox, doctor  # noqa: E402

HEADER = "import numpy as np\nimport matplotlib.pyplot as plt\n"


def function_plot(r: random.Random) -> str:
    a, w, d = r.uniform(0.5, 3), r.uniform(1, 6), r.uniform(0.05, 0.6)
    return f"""
t = np.linspace(0, 10, 800)
y = {a:.2f} * np.exp(-{d:.2f} * t) * np.cos({w:.2f} * t)
env = {a:.2f} * np.exp(-{d:.2f} * t)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(t, y, color="tab:blue", label="x(t)")
ax.plot(t, env, "--", color="gray", label="envelope")
ax.plot(t, -env, "--", color="gray")
ax.axhline(0, color="black", linewidth=0.8)
ax.set_xlabel("time t (s)")
ax.set_ylabel("displacement x (m)")
ax.set_title(r"Damped oscillator, $\\omega$ = {w:.2f} rad/s")
ax.legend()
ax.grid(alpha=0.3)
plt.tight_layout()
plt.savefig("figure.png")
"""


def bar_chart(r: random.Random) -> str:
    n = r.randint(4, 9)
    vals = [round(r.uniform(5, 100), 1) for _ in range(n)]
    return f"""
labels = [f"Group {{i + 1}}" for i in range({n})]
values = {vals}
fig, ax = plt.subplots()
bars = ax.bar(labels, values, color=plt.cm.viridis(np.linspace(0.1, 0.9, {n})))
for b, v in zip(bars, values):
    ax.text(b.get_x() + b.get_width() / 2, v + 1, f"{{v:.0f}}", ha="center", fontsize=9)
ax.set_ylabel("Yield (g)")
ax.set_title("Reaction yield per catalyst group")
plt.xticks(rotation=30)
plt.tight_layout()
plt.savefig("figure.png")
"""


def scatter_fit(r: random.Random) -> str:
    slope, n, seed = r.uniform(-3, 3), r.randint(30, 150), r.randint(0, 10**6)
    return f"""
rng = np.random.default_rng({seed})
x = rng.uniform(0, 10, {n})
y = {slope:.2f} * x + 2 + rng.normal(0, 2, {n})
m, c = np.polyfit(x, y, 1)
fig, ax = plt.subplots()
ax.scatter(x, y, s=18, alpha=0.7, label="measurements")
xs = np.linspace(0, 10, 100)
ax.plot(xs, m * xs + c, color="crimson", label=f"fit: y = {{m:.2f}}x + {{c:.2f}}")
ax.set_xlabel("Concentration (mol/L)")
ax.set_ylabel("Absorbance")
ax.set_title("Beer-Lambert calibration")
ax.legend()
plt.savefig("figure.png")
"""


def geometry(r: random.Random) -> str:
    a, b = r.uniform(2, 6), r.uniform(2, 6)
    return f"""
from matplotlib.patches import Polygon, Circle, Arc
A, B, C = np.array([0.0, 0.0]), np.array([{a:.2f}, 0.0]), np.array([{a / 3:.2f}, {b:.2f}])
fig, ax = plt.subplots(figsize=(6, 6))
ax.add_patch(Polygon([A, B, C], closed=True, fill=False, edgecolor="black", linewidth=2))
G = (A + B + C) / 3
ax.add_patch(Circle(G, 0.08, color="red"))
for P, name in ((A, "A"), (B, "B"), (C, "C")):
    ax.annotate(name, P, textcoords="offset points", xytext=(-12, 6), fontsize=14)
ax.add_patch(Arc(A, 1.0, 1.0, theta1=0, theta2=np.degrees(np.arctan2(C[1], C[0])), color="blue"))
ax.plot([A[0], (B[0] + C[0]) / 2], [A[1], (B[1] + C[1]) / 2], ":", color="gray")
ax.text(G[0] + 0.1, G[1], "G (centroid)", fontsize=11)
ax.set_xlim(-1, {a + 1:.2f})
ax.set_ylim(-1, {b + 1:.2f})
ax.set_aspect("equal")
ax.axis("off")
ax.set_title("Triangle ABC and its centroid")
plt.savefig("figure.png")
"""


def vector_field(r: random.Random) -> str:
    q = r.choice([1, -1]) * r.uniform(0.5, 2)
    return f"""
x, y = np.meshgrid(np.linspace(-2, 2, 21), np.linspace(-2, 2, 21))
u, v = -y + {q:.2f} * x * 0.2, x + {q:.2f} * y * 0.2
speed = np.hypot(u, v) + 1e-9  # the centre is a stagnation point
fig, ax = plt.subplots(figsize=(6, 6))
ax.quiver(x, y, u / speed, v / speed, speed, cmap="plasma")
ax.streamplot(x, y, u, v, color="gray", density=0.6, linewidth=0.6)
ax.set_title("Velocity field of a spiral flow")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_aspect("equal")
plt.savefig("figure.png")
"""


def surface_3d(r: random.Random) -> str:
    k = r.uniform(0.5, 2.5)
    return f"""
X, Y = np.meshgrid(np.linspace(-3, 3, 40), np.linspace(-3, 3, 40))
Z = np.sin({k:.2f} * np.sqrt(X ** 2 + Y ** 2)) / (1 + X ** 2 + Y ** 2)
fig = plt.figure(figsize=(7, 5))
ax = fig.add_subplot(projection="3d")
surf = ax.plot_surface(X, Y, Z, cmap="coolwarm", linewidth=0)
fig.colorbar(surf, shrink=0.6)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_zlabel("z")
ax.view_init(elev={r.randint(15, 50)}, azim={r.randint(-80, 80)})
ax.set_title("Radial wave surface")
plt.savefig("figure.png")
"""


def histogram(r: random.Random) -> str:
    mu, sigma, n = r.uniform(-2, 2), r.uniform(0.5, 2), r.randint(200, 3000)
    return f"""
from scipy import stats
rng = np.random.default_rng({r.randint(0, 10**6)})
data = rng.normal({mu:.2f}, {sigma:.2f}, {n})
fig, ax = plt.subplots()
ax.hist(data, bins=30, density=True, color="skyblue", edgecolor="white", label="samples")
xs = np.linspace(data.min(), data.max(), 200)
ax.plot(xs, stats.norm.pdf(xs, {mu:.2f}, {sigma:.2f}), color="navy", label="N(μ, σ²)")
ax.axvline({mu:.2f}, color="red", linestyle="--", label="mean")
ax.set_xlabel("Measured value")
ax.set_ylabel("Probability density")
ax.set_title("Distribution of {n} measurements")
ax.legend()
plt.savefig("figure.png")
"""


def pie(r: random.Random) -> str:
    parts = [r.randint(5, 40) for _ in range(r.randint(3, 6))]
    names = ["Coal", "Gas", "Nuclear", "Hydro", "Wind", "Solar"][:len(parts)]
    return f"""
sizes = {parts}
labels = {names}
fig, ax = plt.subplots()
ax.pie(sizes, labels=labels, autopct="%1.1f%%", startangle=90, explode=[0.05] + [0] * {len(parts) - 1})
ax.set_title("Electricity generation mix")
ax.axis("equal")
plt.savefig("figure.png")
"""


def polar(r: random.Random) -> str:
    k = r.randint(2, 7)
    return f"""
theta = np.linspace(0, 2 * np.pi, 600)
rho = np.abs(np.cos({k} * theta))
fig = plt.figure()
ax = fig.add_subplot(projection="polar")
ax.plot(theta, rho, color="darkgreen")
ax.fill(theta, rho, alpha=0.2, color="green")
ax.set_title(r"Rose curve $r = |\\cos({k}\\theta)|$")
plt.savefig("figure.png")
"""


def diagram(r: random.Random) -> str:
    m, angle = r.uniform(1, 10), r.randint(15, 45)
    return f"""
from matplotlib.patches import FancyArrowPatch, Rectangle, Polygon
fig, ax = plt.subplots(figsize=(7, 5))
th = np.radians({angle})
ax.add_patch(Polygon([[0, 0], [6, 0], [6, 6 * np.tan(th)]], closed=True, color="0.85"))
cx, cy = 3.5, 3.5 * np.tan(th)
box = Rectangle((cx - 0.4, cy), 0.8, 0.6, angle={angle}, color="tab:orange")
ax.add_patch(box)
for dx, dy, name in ((0, -1.5, "mg"), (-np.sin(th) * 1.3, np.cos(th) * 1.3, "N"), (-np.cos(th), -np.sin(th), "f")):
    ax.add_patch(FancyArrowPatch((cx, cy + 0.3), (cx + dx, cy + 0.3 + dy), arrowstyle="-|>", mutation_scale=15))
    ax.text(cx + dx * 1.1, cy + 0.3 + dy * 1.1, name, fontsize=13)
ax.text(0.8, 0.15, r"$\\theta$ = {angle}°", fontsize=12)
ax.set_title("Free-body diagram: block of {m:.1f} kg on an incline")
ax.set_xlim(-0.5, 6.5)
ax.set_ylim(-0.5, 5)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("figure.png")
"""


def contour(r: random.Random) -> str:
    a = r.uniform(0.5, 2)
    return f"""
x, y = np.meshgrid(np.linspace(-3, 3, 120), np.linspace(-3, 3, 120))
V = 1 / np.hypot(x - {a:.2f}, y) - 1 / np.hypot(x + {a:.2f}, y + 0.001)
fig, ax = plt.subplots()
cs = ax.contour(x, y, np.clip(V, -5, 5), levels=15, cmap="RdBu")
ax.clabel(cs, fontsize=7)
ax.plot([{a:.2f}, -{a:.2f}], [0, 0], "ko")
ax.set_title("Equipotential lines of a dipole")
ax.set_aspect("equal")
plt.savefig("figure.png")
"""


def errorbars(r: random.Random) -> str:
    g = r.uniform(9.6, 10.0)
    return f"""
L = np.array([0.2, 0.4, 0.6, 0.8, 1.0, 1.2])
T = 2 * np.pi * np.sqrt(L / {g:.3f})
err = 0.02 + 0.01 * L
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.errorbar(L, T, yerr=err, fmt="o", capsize=4, label="measured")
ax1.set_xlabel("Length L (m)")
ax1.set_ylabel("Period T (s)")
ax1.set_title("Pendulum period")
ax2.plot(L, T ** 2, "s-", color="purple")
ax2.set_xlabel("L (m)")
ax2.set_ylabel("T² (s²)")
ax2.set_title(f"slope → g ≈ {g:.2f} m/s²")
fig.suptitle("Simple pendulum experiment")
plt.tight_layout()
plt.savefig("figure.png")
"""


KINDS = [function_plot, bar_chart, scatter_fit, geometry, vector_field, surface_3d, histogram,
         pie, polar, diagram, contour, errorbars]


def programs(n: int, seed: int = 0) -> list[str]:
    r = random.Random(seed)
    return [HEADER + KINDS[i % len(KINDS)](r) for i in range(n)]


# Scripts written for a desktop: Agg everywhere, and a figure saved when the script saved none.
PROLOGUE = """import matplotlib as _mpl
_mpl.use("Agg")
from matplotlib.figure import Figure as _Figure
_saves, _savefig = [], _Figure.savefig
def _counted(self, *args, **kwargs):
    _saves.append(1)
    return _savefig(self, *args, **kwargs)
_Figure.savefig = _counted
"""
EPILOGUE = """
import matplotlib.pyplot as _plt
if not _saves and _plt.get_fignums():
    _plt.gcf().savefig("figure.png")
"""


def programs_from(folder: Path) -> list[str]:
    """Every matplotlib script under `folder`, wrapped so that each way renders it."""
    found = sorted(p for p in folder.rglob("*.py") if "matplotlib" in p.read_text(errors="replace"))
    if not found:
        raise SystemExit(f"no matplotlib scripts under {folder}")
    return [PROLOGUE + p.read_text(errors="replace") + EPILOGUE for p in found]


def workdir() -> str:
    """A fresh folder to run in, with a sibling `figures/` (tutorials save to ../figures)."""
    root = tempfile.mkdtemp()
    os.mkdir(os.path.join(root, "figures"))
    os.mkdir(os.path.join(root, "work"))
    return os.path.join(root, "work")


# -- CPU time of this process tree ---------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of the process and of the children it has reaped)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:  # gone between listdir and open
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / _TICK)
    return table


def tree_cpu_seconds() -> float:
    """CPU used so far by this process, its reaped children and every live descendant."""
    table, mine, total = _proc_table(), {os.getpid()}, 0.0
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in table.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                grew = True
    for pid in mine - {os.getpid()}:
        total += table[pid][1]
    t = os.times()
    return total + t.user + t.system + t.children_user + t.children_system


# -- (a) a fresh interpreter per program ---------------------------------------------------------
def run_fresh(code: str) -> bool:
    d = workdir()
    try:
        Path(d, "program.py").write_text(code)
        env = {"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": d,
               "MPLCONFIGDIR": os.environ["BENCH_MPLCONFIGDIR"], "OPENBLAS_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "program.py"], cwd=d, env=env, capture_output=True,
                              timeout=60)
        return done.returncode == 0
    finally:
        shutil.rmtree(os.path.dirname(d), ignore_errors=True)


def run_chunk_fresh(codes: list[str], workers: int) -> int:
    with ThreadPoolExecutor(workers) as ex:
        return sum(ex.map(run_fresh, codes))


# -- (b) the sandbox pool -------------------------------------------------------------------------
def run_chunk_pool(sb: Sandbox, codes: list[str]) -> int:
    async def all_of_them():
        return await asyncio.gather(*(sb.arun(c) for c in codes))

    results = asyncio.run(all_of_them())
    for r in results:
        if not r.ok:
            print("  pool failure:", r.status.value, r.error)
    return sum(r.ok for r in results)


# -- (c) in-process exec, no isolation ------------------------------------------------------------
def _inproc_init() -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import mpl_toolkits.mplot3d  # noqa: F401
    import scipy.stats  # noqa: F401
    os.chdir(workdir())


def _inproc_run(code: str) -> bool:
    import matplotlib.pyplot as plt
    try:
        exec(compile(code, "program.py", "exec"), {"__name__": "__main__"})
        return True
    except BaseException:
        return False
    finally:
        plt.close("all")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=20)
    ap.add_argument("--programs", type=Path, metavar="DIR",
                    help="run the matplotlib scripts under DIR instead of the generated ones")
    args = ap.parse_args()
    codes = programs_from(args.programs) if args.programs else programs(args.n)
    args.n = len(codes)
    from sandbox.jail import mpl_cache_dir
    os.environ["BENCH_MPLCONFIGDIR"] = str(mpl_cache_dir())  # the same warm font cache for (a)

    kinds = f"from {args.programs}" if args.programs else f"of {len(KINDS)} kinds"
    print(f"{args.n} programs {kinds}, {args.workers} workers each, {os.cpu_count()} CPUs")
    print("isolation layers:", ", ".join(f"{l.name}={'on' if l.active else 'OFF'}" for l in doctor()))
    t0 = time.perf_counter()
    sb = Sandbox(workers=args.workers)
    sb.info()
    start_b = time.perf_counter() - t0
    t0 = time.perf_counter()
    inproc = mp.get_context("forkserver").Pool(args.workers, initializer=_inproc_init)
    inproc.map(_inproc_run, codes[:args.workers * 2])  # both workers warm
    start_c = time.perf_counter() - t0
    ways = {
        "a": lambda chunk: run_chunk_fresh(chunk, args.workers),
        "b": lambda chunk: run_chunk_pool(sb, chunk),
        "c": lambda chunk: sum(inproc.map(_inproc_run, chunk, chunksize=1)),
    }
    # The machine is shared: the three ways take turns on each chunk, so a burst of someone
    # else's load falls on all of them rather than on whichever ran at that moment.
    elapsed, cpu, ok = dict.fromkeys(ways, 0.0), dict.fromkeys(ways, 0.0), dict.fromkeys(ways, 0)
    for k in range(0, args.n, args.chunk):
        chunk = codes[k:k + args.chunk]
        order = list(ways)[k // args.chunk % 3:] + list(ways)[:k // args.chunk % 3]
        for way in order:
            t, c = time.perf_counter(), tree_cpu_seconds()
            ok[way] += ways[way](chunk)
            elapsed[way] += time.perf_counter() - t
            cpu[way] += tree_cpu_seconds() - c
    sb.close()
    inproc.close()
    rate = {w: args.n / elapsed[w] for w in ways}
    ms = {w: cpu[w] / args.n * 1000 for w in ways}
    print(f"(a) fresh python per program : {rate['a']:6.2f} programs/s, {ms['a']:5.0f} ms CPU each  "
          f"({ok['a']}/{args.n} ok, {elapsed['a']:.1f} s)")
    print(f"(b) sandbox pool, isolated   : {rate['b']:6.2f} programs/s, {ms['b']:5.0f} ms CPU each  "
          f"({ok['b']}/{args.n} ok, {elapsed['b']:.1f} s; pool start {start_b:.1f} s, once)")
    print(f"(c) in-process exec, no isol.: {rate['c']:6.2f} programs/s, {ms['c']:5.0f} ms CPU each  "
          f"({ok['c']}/{args.n} ok, {elapsed['c']:.1f} s; worker start {start_c:.1f} s, once)")
    print(f"b/a = {rate['b'] / rate['a']:.2f}   (target >= 6;   by CPU time {ms['a'] / ms['b']:.2f})")
    print(f"b/c = {rate['b'] / rate['c']:.2f}   (target >= 1.2; by CPU time {ms['c'] / ms['b']:.2f})")


if __name__ == "__main__":
    main()
