"""The pool as its callers use it: concurrency, asyncio, several pools, close, restart, policies."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hosts import failing_bwrap
from sandbox import CodeTooLarge, ExecResult, Limits, Sandbox, SandboxClosed, Status

PLOT = "import matplotlib.pyplot as plt\nplt.plot([0, {i}])\nplt.title('program {i}')\n"


def _title(r: ExecResult) -> str:
    return r.trace["summary"]["titles"][0]


def test_result_shape(sb, normal_program):
    r = sb.run(normal_program)
    assert r.ok and r.status == "ok" and r.error == ""
    assert r.png.startswith(b"\x89PNG") and r.png_size == len(r.png)
    assert r.trace is None
    assert {"queue", "exec", "render", "run", "total"} <= set(r.durations)
    json.dumps(r.to_dict())


def test_threads_get_their_own_results(sb):
    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda i: sb.run(PLOT.format(i=i), trace=True), range(12)))
    assert [_title(r) for r in results] == [f"program {i}" for i in range(12)]


def test_arun_many_concurrently(sb):
    async def main():
        return await asyncio.gather(*(sb.arun(PLOT.format(i=i), trace=True) for i in range(10)))

    results = asyncio.run(main())
    assert [_title(r) for r in results] == [f"program {i}" for i in range(10)]


def test_default_figsize_and_program_figsize(sb):
    assert (sb.run("import matplotlib.pyplot as plt\nplt.plot([1])\n").width, ) == (800,)
    r = sb.run("import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3), dpi=300)\nplt.plot([1])\n")
    assert (r.width, r.height) == (400, 300)  # the program's size, the pool's DPI


def test_max_pixels_scales_dpi_down(sb):
    r = sb.run("import matplotlib.pyplot as plt\nplt.figure(figsize=(40, 30))\nplt.plot([1])\n")
    assert r.ok and r.width * r.height <= sb.limits.max_pixels
    assert abs(r.width / r.height - 4 / 3) < 0.01


def test_closed_figure_after_savefig_is_rendered(sb):
    r = sb.run("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.title('saved')\n"
               "plt.savefig('a.png')\nplt.close('all')\n", trace=True)
    assert r.ok and _title(r) == "saved"


def test_show_is_harmless(sb):
    r = sb.run("import matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\nplt.pause(10)\n")
    assert r.ok and r.durations["exec"] < 2


THREE_FIGS = ("import matplotlib.pyplot as plt\nfor name in ['one', 'two', 'three']:\n"
              "    plt.figure()\n    plt.title(name)\n")


@pytest.fixture(scope="module")
def two_more_pools(tmp_path_factory):
    """Two differently configured pools alive at once.

    The unjailed one is started (and waited for) first: a pool starting in the background while
    the fake bwrap is on PATH would see it too.
    """
    with failing_bwrap(tmp_path_factory.mktemp("nobwrap")):
        unjailed = Sandbox(Limits(cpu_seconds=2, wall_seconds=3), unconfined=True)
        unjailed.info()
    first = Sandbox(Limits(figure_policy="first"))
    yield first, unjailed
    first.close()
    unjailed.close()


def test_figure_policy(sb, two_more_pools):
    assert sb.limits.figure_policy == "last"
    assert _title(sb.run(THREE_FIGS, trace=True)) == "three"
    assert _title(two_more_pools[0].run(THREE_FIGS, trace=True)) == "one"


def test_unconfined_pool_still_isolates_with_rlimits(two_more_pools, normal_program):
    pool = two_more_pools[1]
    assert pool.info()["jailed"] is False and pool.info()["confined"] is False
    assert pool.run("while True:\n    pass\n").status is Status.TIMEOUT
    assert pool.run(normal_program).ok


def test_savefig_wins_over_open_figures(sb):
    code = ("import matplotlib.pyplot as plt\nf1 = plt.figure()\nplt.title('saved one')\n"
            "plt.savefig('x.png')\nf2 = plt.figure()\nplt.title('left open')\n")
    assert _title(sb.run(code, trace=True)) == "saved one"


def test_code_too_large(sb):
    with pytest.raises(CodeTooLarge, match="max_code_bytes"):
        sb.run("#" * (sb.limits.max_code_bytes + 1))


def test_unseeded_randomness_is_reproducible(sb):
    code = "import numpy as np, random\nprint(np.random.rand(), random.random())\n" \
           "import matplotlib.pyplot as plt\nplt.plot([1])\n"
    assert sb.run(code).stdout_tail == sb.run(code).stdout_tail


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_several_pools_close_cleanly(two_more_pools, normal_program):
    pids = []
    for pool in two_more_pools:
        assert pool.run(normal_program).ok
        pids.append(pool.info()["pool_pid_host"])
    for pool in two_more_pools:
        pool.close()
        pool.close()  # idempotent
    time.sleep(0.2)
    assert not any(_alive(p) for p in pids)
    with pytest.raises(SandboxClosed):
        two_more_pools[0].run(normal_program)


def test_pool_made_in_a_finished_thread_serves_and_restarts(normal_program):
    # PR_SET_PDEATHSIG fires when the *thread* that forked exits: the pool must not care.
    holder = {}
    t = threading.Thread(target=lambda: holder.setdefault("pool", Sandbox(Limits(wall_seconds=10))))
    t.start()
    t.join()
    with holder["pool"] as pool:
        assert pool.run(normal_program).ok
        assert pool.info()["restarts"] == 0
        slow = pool._state.submit("import time\ntime.sleep(1.5)\n" + normal_program, False)
        time.sleep(0.5)
        os.kill(pool.info()["pool_pid_host"], signal.SIGKILL)
        # The job that was inside gets a second try in the new pool.
        assert slow.result(timeout=120).ok
        assert pool.run(normal_program).ok
        assert pool.info()["restarts"] == 1


def test_no_pool_outlives_a_driver_that_forgets_close(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom sandbox import Sandbox\n"
        "sb = Sandbox()\nassert sb.run('import matplotlib.pyplot as plt\\nplt.plot([1])').ok\n"
        "print(sb.info()['pool_pid_host'])\n" % str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_desktop_backends_render_with_agg(sb):
    for code in ("import matplotlib\nmatplotlib.use('TkAgg')\nimport matplotlib.pyplot as plt\n"
                 "plt.plot([1])\nplt.show()\n",
                 "import matplotlib.pyplot as plt\nplt.switch_backend('QtAgg')\nplt.plot([1])\n"):
        r = sb.run(code)
        assert r.ok, r.error
