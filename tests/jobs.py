"""Running `iccgen run` as a separate process, and killing it the way a crash would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from iccgen.store import ShardStore

ICCGEN = [sys.executable, "-m", "iccgen.cli", "run"]


def run_cli(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*ICCGEN, *args], capture_output=True, text=True, timeout=timeout)


def kill_when(args: list[str], ready: Callable[[], bool], limit: float = 240, group: bool = True) -> None:
    """Start a job in its own session and SIGKILL it as soon as `ready()` holds.

    group=False kills only the `iccgen` process, as `kill -9 PID` by a user does."""
    proc = subprocess.Popen([*ICCGEN, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + limit
    while not ready():
        assert proc.poll() is None, "the job ended before it could be killed"
        assert time.time() < deadline, "the job made no progress"
        time.sleep(0.02)
    (os.killpg if group else os.kill)(proc.pid, signal.SIGKILL)
    proc.wait()


def segments_at_least(store: ShardStore, pipeline: str, count: int) -> Callable[[], bool]:
    return lambda: len(store.segments(pipeline, 0)) >= count
