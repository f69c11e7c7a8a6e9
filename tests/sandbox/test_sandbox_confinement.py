"""Confinement is required: refused without it, explicit to skip, and each hole an attacker used stays shut.

Every attack runs beside innocent programs in the same pool: the pool survives and they finish ok.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hosts import failing_bwrap

from sandbox import ConfinementError, Limits, Sandbox, Status
from sandbox.jail import mpl_cache_dir

SIBLING = """
import time
import matplotlib.pyplot as plt
time.sleep(1.5)  # long enough for the attacker to find this process
plt.plot([0, 1], [1, 0])
plt.title("sibling")
"""


@pytest.fixture(scope="module")
def pool():
    """Room for an attacker and two siblings at once."""
    with Sandbox(Limits(cpu_seconds=5, wall_seconds=8, memory_mb=512), workers=3) as sb:
        assert sb.info()["confined"]
        yield sb


def attack_beside_siblings(pool: Sandbox, attack: str):
    """Runs the attack while two siblings run; returns its result after checking theirs."""
    restarts = pool.info()["restarts"]
    with ThreadPoolExecutor(3) as ex:
        siblings = [ex.submit(pool.run, SIBLING) for _ in range(2)]
        attacker = ex.submit(pool.run, attack)
        results = [f.result() for f in siblings]
    for r in results:
        assert r.ok, (r.status, r.error)
    assert pool.info()["restarts"] == restarts, "the attack restarted the pool"
    return attacker.result()


def test_required_pool_refuses_where_bubblewrap_cannot_work(tmp_path):
    with failing_bwrap(tmp_path):
        sb = Sandbox(workers=1)
        with pytest.raises(ConfinementError, match="apt-get install bubblewrap") as e:
            sb.info()
        assert "--cap-add SYS_ADMIN,NET_ADMIN" in str(e.value) and "iccgen doctor" in str(e.value)
        with pytest.raises(ConfinementError):
            sb.run("print(1)")
        sb.close()


def test_unconfined_is_explicit_and_visible(tmp_path):
    with failing_bwrap(tmp_path), Sandbox(workers=1, unconfined=True) as sb:
        info = sb.info()
        assert info["confined"] is False and info["jailed"] is False
        assert "UNCONFINED" in info["jail_detail"]
        assert sb.run("import matplotlib.pyplot as plt\nplt.plot([1, 2])\n").ok


def test_unconfined_still_jails_where_bubblewrap_works():
    with Sandbox(workers=1, unconfined=True) as sb:
        assert sb.info()["confined"] is True


NESTED_FRAME = """
import json, os, struct
head = b"[" * 200000 + b"]" * 200000
os.write(4, struct.pack(">II", len(head), 0) + head)
os._exit(0)
"""


def test_deeply_nested_report_is_the_programs_fault(pool):
    r = attack_beside_siblings(pool, NESTED_FRAME)
    assert r.status is Status.KILLED and "malformed report" in r.error


def test_report_with_odd_types_is_not_trusted(pool):
    code = ("import json, os, struct\nhead = json.dumps({'status': ['ok'], 'durations': 7}).encode()\n"
            "os.write(4, struct.pack('>II', len(head), 0) + head)\nos._exit(0)\n")
    r = attack_beside_siblings(pool, code)
    assert r.status is Status.KILLED


REACH_SIBLINGS = """
import ctypes, os, resource, signal, time
time.sleep(0.5)
me, libc = os.getpid(), ctypes.CDLL(None, use_errno=True)
siginfo = (ctypes.c_int * 32)()
siginfo[0] = signal.SIGKILL
attempts = {
    "kill": lambda p: os.kill(p, signal.SIGKILL),
    "rt_sigqueueinfo": lambda p: libc.syscall(129, p, signal.SIGKILL, siginfo),
    "rt_tgsigqueueinfo": lambda p: libc.syscall(297, p, p, signal.SIGKILL, siginfo),
    "prlimit": lambda p: resource.prlimit(p, resource.RLIMIT_CPU, (1, 1)),
    "setpriority": lambda p: os.setpriority(os.PRIO_PROCESS, p, 19),
    "setpriority_user": lambda p: os.setpriority(os.PRIO_USER, 0, 19),
    "sched_setaffinity": lambda p: os.sched_setaffinity(p, {0}),
    "ioprio_set": lambda p: libc.syscall(251, 1, p, 7 << 13),
}
reached = []
for pid in [int(d) for d in os.listdir("/proc") if d.isdigit() and int(d) != me]:
    for name, call in attempts.items():
        try:
            if call(pid) in (None, 0):
                reached.append(name)
        except OSError:
            pass
# What it may do to itself still works: 0 means "this process".
resource.prlimit(0, resource.RLIMIT_CPU)
os.setpriority(os.PRIO_PROCESS, 0, 1)
print(sorted(set(reached)))
import matplotlib.pyplot as plt
plt.plot([1, 2])
"""


def test_siblings_and_pool_are_out_of_reach(pool):
    r = attack_beside_siblings(pool, REACH_SIBLINGS)
    assert r.ok, (r.status, r.error, r.traceback_tail)
    assert r.stdout_tail.strip() == "[]"


def test_system_and_matplotlib_config_are_read_only(pool):
    code = """
import os, matplotlib
wrote = []
for path in ("/etc/iccgen-evil", "/iccgen-evil", "/usr/iccgen-evil", "/dev/shm/evil",
             "/var/cache/mplconfig/matplotlibrc", os.path.join(matplotlib.get_configdir(), "matplotlibrc")):
    try:
        with open(path, "w") as f:
            f.write("lines.linewidth: 40\\n")
        wrote.append(path)
    except OSError:
        pass
print(wrote)
import matplotlib.pyplot as plt
plt.plot([1, 2])
"""
    r = attack_beside_siblings(pool, code)
    assert r.ok and r.stdout_tail.strip() == "[]", r.stdout_tail
    assert not (mpl_cache_dir() / "matplotlibrc").exists()


def test_siblings_folders_and_tmp_are_out_of_reach(pool):
    """As root, siblings are nobody in a root-owned /tmp; as a user, each has its own mount view."""
    code = """
import glob, json, os, time
time.sleep(0.3)  # the siblings are running by now
mine = os.getcwd()
seen = [d for d in glob.glob("/tmp/*") + glob.glob("/tmp/*/*") if os.path.isdir(d) and d != mine]
wrote = []
for d in ["/tmp"] + seen:
    try:
        open(os.path.join(d, "evil"), "w").close()
        wrote.append(d)
    except OSError:
        pass
open("mine.txt", "w").write("own folder writable")
print(json.dumps([[d for d in seen if not mine.startswith(d)], wrote]))
"""
    r = attack_beside_siblings(pool, code + "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n")
    assert r.ok, (r.status, r.error, r.traceback_tail)
    others, wrote = json.loads(r.stdout_tail.strip().splitlines()[-1])
    assert wrote == [], f"the program wrote into {wrote}"
    assert not any(d.count("/") > 2 for d in others), f"the program saw its siblings' folders: {others}"


def test_memfd_is_refused(pool):
    code = ("import os\ntry:\n    fd = os.memfd_create('x')\n    print('memfd', fd)\n"
            "except OSError as e:\n    print('refused', e.errno)\nimport matplotlib.pyplot as plt\nplt.plot([1])\n")
    r = attack_beside_siblings(pool, code)
    assert r.ok and r.stdout_tail.startswith("refused"), r.stdout_tail


def test_trace_is_cut_to_max_trace_bytes_in_the_child():
    limits = Limits(max_trace_bytes=10_000)
    code = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
for i in range(22):
    ax.plot([0, 1], [i, i], label=("legend %d " % i) * 60)
ax.legend(fontsize=1)
ax.set_title("T" * 600, fontsize=1)
ax.set_xticks([0, 1], ["x" * 600, "y" * 600], fontsize=1)
"""
    with Sandbox(limits, workers=1) as sb:
        r = sb.run(code, trace=True)
    assert r.ok, (r.status, r.error)
    assert len(json.dumps(r.trace)) <= limits.max_trace_bytes
    assert r.trace["truncated"] is True
