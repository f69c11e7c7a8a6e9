"""The warm pool: one process that imported the plotting stack once and forks a child per program.

Speaks frames with the driver on stdin/stdout. Keeps `workers` children running and as many
forked ahead, idle and already confined, so a program waits for neither an interpreter nor a
fork. Enforces the wall clock, reaps, classifies how each child ended, and cleans up after it.
"""
from __future__ import annotations

import collections
import gc
import json
import os
import selectors
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from . import protocol, status
from .confine import (NOBODY, PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, PR_SET_PDEATHSIG, Plan, prctl,
                      vm_size_bytes)
from .limits import Limits
from .view import probe_private_view

IN_FD, OUT_FD = 0, 1


@dataclass
class Job:
    id: int
    trace: bool
    code: bytes
    received: float


@dataclass
class Slot:
    pid: int
    job_w: int
    result_r: int
    workdir: str
    buffer: protocol.FrameBuffer
    job: Job | None = None
    started: float = 0.0
    deadline: float = float("inf")
    frame: tuple[dict[str, Any], bytes] | None = None
    eof: bool = False
    kill_reason: str = ""
    wait_status: int | None = None
    cpu_seconds: float = 0.0
    maxrss_kb: int = 0


def warm_up() -> None:
    """Imports and one rendering, so children inherit caches instead of rebuilding them."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mpl_toolkits.mplot3d  # noqa: F401
    import numpy as np
    # The scipy modules STEM plots reach for; each costs 0.1-0.5 s to import in a child.
    import scipy.fft, scipy.integrate, scipy.interpolate, scipy.linalg, scipy.optimize  # noqa: E401,F401
    import scipy.signal, scipy.spatial, scipy.special, scipy.stats  # noqa: E401,F401
    from . import child, tracer  # noqa: F401

    fig = plt.figure()
    ax = fig.add_subplot(121)
    ax.plot(np.arange(3), label=r"$\alpha^2$")
    ax.bar([0, 1], [1, 2], hatch="//")
    ax.scatter([0, 1], [1, 0], c=[0, 1])
    ax.legend(title="legend")
    ax.set_title("Title", fontweight="bold")
    ax3 = fig.add_subplot(122, projection="3d")
    grid = np.meshgrid(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
    ax3.plot_surface(*grid, grid[0] * grid[1], cmap="viridis")
    fig.colorbar(ax.collections[0], ax=ax)
    fig.savefig(io.BytesIO(), format="png")
    plt.close("all")


def _tree_readable_by_others(path: str) -> bool:
    """Every ancestor searchable and the directory itself readable by any user."""
    p = os.path.realpath(path)
    while True:
        mode = os.stat(p).st_mode
        if not mode & 0o001:
            return False
        if p == "/":
            return True
        p = os.path.dirname(p)


def decide_plan() -> tuple[Plan, dict[str, str], list[str]]:
    """The layers this pool applies, their notes, and the required layers it cannot apply.

    Required: programs run as an unprivileged user (nobody, when the pool is root; the
    caller's own uid inside bubblewrap's user namespace otherwise) under seccomp.
    """
    import matplotlib
    import numpy
    notes: dict[str, str] = {}
    drop = False
    missing: list[str] = []
    if os.geteuid() != 0:
        notes["nobody"] = (f"the pool runs as uid {os.geteuid()}, not root, in a user namespace "
                           "without capabilities: programs run as that unprivileged uid")
    else:
        needed = [sys.prefix, sys.base_prefix, os.path.dirname(numpy.__file__),
                  os.path.dirname(matplotlib.__file__), os.path.dirname(__file__)]
        blocked = [p for p in needed if not _tree_readable_by_others(p)]
        drop = not blocked
        notes["nobody"] = (f"children run as uid {NOBODY} (nobody)" if drop else
                           f"{blocked[0]} is not readable by nobody (a 0700 parent such as /root); "
                           "inside bubblewrap the runtime is bound readable, so run with bubblewrap "
                           "or use a world-readable interpreter")
        if not drop:
            missing.append("the switch to nobody: " + notes["nobody"])
    seccomp, notes["seccomp"] = _probe_seccomp()
    if not seccomp:
        missing.append("seccomp: " + notes["seccomp"])
    view = False
    if os.geteuid() != 0:  # as root, nobody's permissions keep the children apart
        view, notes["private_view"] = probe_private_view(tempfile.mkdtemp(prefix="probe-"))
        if not view:
            missing.append("a private view of /tmp per program: " + notes["private_view"] +
                           " (user namespaces must be allowed inside bubblewrap's)")
    return Plan(drop_to_nobody=drop, seccomp=seccomp, private_view=view), notes, missing


def _private_mpl_config() -> None:
    """Copies the read-only font cache into this pool's own config dir before matplotlib loads."""
    seed, target = os.environ.pop("ICCGEN_MPL_SEED", None), os.environ.get("MPLCONFIGDIR")
    if not seed or not target:
        return
    os.makedirs(target, mode=0o755, exist_ok=True)
    for name in os.listdir(seed):
        if name.startswith("fontlist-") and name.endswith(".json"):
            shutil.copyfile(os.path.join(seed, name), os.path.join(target, name))


def _probe_seccomp() -> tuple[bool, str]:
    """Loads the filter in a throwaway child and checks socket() is refused there."""
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError) as exc:
        return False, f"pyseccomp/libseccomp unavailable: {exc} (pip install pyseccomp; apt-get install libseccomp2)"
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            import socket

            from .confine import seccomp_filter
            seccomp_filter().load()
            code = 4
            socket.socket()
        except PermissionError:
            code = 0
        finally:
            os._exit(code)
    _, st = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(st)
    if rc == 0:
        return True, "filter loaded in every child: socket, exec, fork and signals to others refused"
    return False, "the seccomp filter could not be loaded" if rc == 3 else "socket() still allowed after loading the filter"


class Pool:
    def __init__(self, limits: Limits, workers: int, plan: Plan) -> None:
        self.limits = limits
        self.workers = workers
        self.plan = plan
        self.pid = os.getpid()
        self.root = tempfile.mkdtemp(prefix="jobs-")
        os.chmod(self.root, 0o711)
        self.queue: collections.deque[Job] = collections.deque()
        self.idle: list[Slot] = []
        self.running: dict[int, Slot] = {}
        self.sel = selectors.DefaultSelector()
        self.requests = protocol.FrameBuffer(limits.max_code_bytes + 65536)
        self.max_result = limits.max_png_bytes + 4 * limits.max_trace_bytes + 16 * limits.tail_chars + 65536
        self.closing = False

    # -- children --------------------------------------------------------------------------
    def spawn(self) -> None:
        from .child import child_main

        workdir = tempfile.mkdtemp(dir=self.root)
        if self.plan.drop_to_nobody:
            os.chown(workdir, NOBODY, NOBODY)
        job_r, job_w = os.pipe()
        result_r, result_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            child_main(job_r, result_w, workdir, self.limits, self.plan, self.pid)
        os.close(job_r)
        os.close(result_w)
        os.set_blocking(result_r, False)
        self.idle.append(Slot(pid, job_w, result_r, workdir, protocol.FrameBuffer(self.max_result)))

    def refill(self) -> None:
        while len(self.idle) < self.workers and not self.closing:
            self.spawn()

    def dispatch(self) -> None:
        while self.queue and self.idle and len(self.running) < self.workers:
            slot, job = self.idle.pop(0), self.queue.popleft()
            slot.job, slot.started = job, time.monotonic()
            slot.deadline = slot.started + self.limits.wall_seconds
            self.running[slot.pid] = slot
            try:
                protocol.write_all(slot.job_w, protocol.encode({"trace": job.trace}, job.code))
            except OSError:
                pass  # the child died while idle; reaping reports it
            os.close(slot.job_w)
            self.sel.register(slot.result_r, selectors.EVENT_READ, slot)
        self.refill()

    def read_result(self, slot: Slot) -> bool:
        """Reads what the child wrote so far; False when there was nothing (more) to read."""
        if slot.eof:
            return False
        try:
            data = os.read(slot.result_r, 1 << 20)
        except BlockingIOError:
            return False
        if not data:
            slot.eof = True
            self.sel.unregister(slot.result_r)
            return False
        try:
            frames = slot.buffer.feed(data)
        except protocol.FrameError as exc:
            # Whatever a child writes is its own fault, never the pool's.
            self.kill(slot, "output" if isinstance(exc, protocol.FrameTooLarge) else "malformed")
            slot.eof = True
            self.sel.unregister(slot.result_r)
            return False
        if frames and slot.frame is None:
            slot.frame = frames[0]
        return True

    def kill(self, slot: Slot, reason: str) -> None:
        """Kills a running child and its process group (it may not have called setsid yet)."""
        slot.kill_reason = slot.kill_reason or reason
        _signal_quietly(os.kill, slot.pid)
        _signal_quietly(os.killpg, slot.pid)

    def reap(self) -> None:
        while True:
            try:
                pid, st, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = self.running.get(pid)
            if slot is None:
                self.drop_idle(pid)
                continue
            slot.wait_status, slot.maxrss_kb = st, usage.ru_maxrss
            slot.cpu_seconds = usage.ru_utime + usage.ru_stime
            self.finish(slot)

    def drop_idle(self, pid: int) -> None:
        """An idle child died before getting work (or a program's orphan was reaped)."""
        for slot in [s for s in self.idle if s.pid == pid]:
            self.idle.remove(slot)
            for fd in (slot.job_w, slot.result_r):
                os.close(fd)
            shutil.rmtree(slot.workdir, ignore_errors=True)

    def finish(self, slot: Slot) -> None:
        while slot.frame is None and self.read_result(slot):
            pass
        # Reaped, so only its group may remain: whatever the program left behind.
        _signal_quietly(os.killpg, slot.pid)
        del self.running[slot.pid]
        if not slot.eof:
            self.sel.unregister(slot.result_r)
        os.close(slot.result_r)
        shutil.rmtree(slot.workdir, ignore_errors=True)
        header, png = status.outcome(slot, self.limits)
        job = slot.job
        header.update(type="result", id=job.id)
        header["durations"]["queue"] = slot.started - job.received
        header["durations"]["run"] = time.monotonic() - slot.started
        try:
            protocol.write_all(OUT_FD, protocol.encode(header, png))
        except BrokenPipeError:
            self.closing = True  # the driver is gone

    # -- driver ------------------------------------------------------------------------------
    def read_requests(self) -> None:
        data = os.read(IN_FD, 1 << 20)
        if not data:
            self.closing = True
            return
        for header, blob in self.requests.feed(data):
            if header.get("type") == "run":
                self.queue.append(Job(int(header["id"]), bool(header.get("trace")), blob, time.monotonic()))

    def check_deadlines(self) -> float:
        now, nearest = time.monotonic(), float("inf")
        for slot in self.running.values():
            if now >= slot.deadline and not slot.kill_reason:
                self.kill(slot, "wall")
            nearest = min(nearest, slot.deadline)
        return max(0.0, min(nearest - now, 1.0))

    def serve(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(IN_FD, selectors.EVENT_READ, "in")
        self.sel.register(wake_r, selectors.EVENT_READ, "wake")
        self.refill()
        while not (self.closing and not self.running):
            for key, _ in self.sel.select(self.check_deadlines()):
                if key.data == "in":
                    self.read_requests()
                    if self.closing:
                        self.sel.unregister(IN_FD)
                elif key.data == "wake":
                    _drain(wake_r)
                else:
                    self.read_result(key.data)
            self.reap()
            if self.closing:
                self.shutdown()
            else:
                self.dispatch()

    def shutdown(self) -> None:
        self.queue.clear()
        for slot in list(self.running.values()):
            self.kill(slot, "killed")
        for slot in self.idle:
            os.close(slot.job_w)  # an idle child exits on end of stream
        self.idle.clear()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _signal_quietly(send, target: int) -> None:
    try:
        send(target, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _take_stdio() -> None:
    """Moves the protocol off fds 0/1 so stray prints from libraries cannot corrupt it."""
    global IN_FD, OUT_FD
    IN_FD, OUT_FD = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)


def main() -> None:
    _take_stdio()
    _die_with_parent()
    config = json.loads(sys.argv[1])
    limits, workers = Limits.from_dict(config["limits"]), int(config["workers"])
    t0 = time.monotonic()
    _private_mpl_config()
    warm_up()
    plan, notes, missing = decide_plan()
    if missing and not config.get("unconfined", False):
        protocol.write_all(OUT_FD, protocol.encode({"type": "refused", "why": "; ".join(missing)}))
        return
    # Objects that exist now are never collected: children skip touching (copying) their pages.
    gc.freeze()
    pool = Pool(limits, workers, plan)
    ready = {"type": "ready", "pid": os.getpid(), "warm_seconds": time.monotonic() - t0,
             "plan": {"drop_to_nobody": plan.drop_to_nobody, "seccomp": plan.seccomp,
                      "private_view": plan.private_view},
             "notes": notes, "missing": missing, "vm_mb": vm_size_bytes() >> 20,
             "python": sys.version.split()[0]}
    protocol.write_all(OUT_FD, protocol.encode(ready))
    try:
        pool.serve()
    finally:
        shutil.rmtree(pool.root, ignore_errors=True)


def _die_with_parent() -> None:
    # Non-dumpable: a program running as our uid (an unprivileged host) cannot read our memory.
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a program come back to us, to be reaped
