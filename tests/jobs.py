"""Running `iccgen run` as a separate process, and killing it the way a crash would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from iccgen.journal_store import JournalStore
from iccgen.store import ShardStore

ICCGEN = [sys.executable, "-m", "iccgen.cli", "run"]


def run_cli(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*ICCGEN, *args], capture_output=True, text=True, timeout=timeout)


def kill_when(args: list[str], ready: Callable[[], bool], limit: float = 240, group: bool = True) -> None:
    """Start a job in its own session and SIGKILL it as soon as `ready()` holds.

    group=True kills the job and every process it started, Ray's included, as a machine that
    loses power does; group=False kills only the `iccgen` process, as `kill -9 PID` by a user
    does, and Ray's processes outlive it for a moment."""
    proc = subprocess.Popen([*ICCGEN, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + limit
    while not ready():
        assert proc.poll() is None, "the job ended before it could be killed"
        assert time.time() < deadline, "the job made no progress"
        time.sleep(0.02)
    if group:
        kill_tree(proc.pid)
    else:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_tree(root: int) -> None:
    """SIGKILL `root` and all its descendants, frozen first so that none can fork or escape."""
    frozen: set[int] = set()
    while fresh := descendants(root) - frozen:
        for pid in fresh:
            _signal(pid, signal.SIGSTOP)
        frozen |= fresh
    for pid in frozen:
        _signal(pid, signal.SIGKILL)


def descendants(root: int) -> set[int]:
    """`root` and every process below it, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses: the fields follow the last ')'.
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def segments_at_least(store: ShardStore, pipeline: str, count: int) -> Callable[[], bool]:
    return lambda: len(JournalStore(store).segments(pipeline, 0)) >= count
