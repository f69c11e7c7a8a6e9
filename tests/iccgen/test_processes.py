"""Which process a pid names: alive, gone, or reused by a later one."""

import os
import subprocess
import sys
import time

from iccgen import processes


def test_a_pid_is_gone_once_its_process_ended_or_a_later_one_holds_it():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert processes.gone_since(child.pid, time.time())  # ended (reaped: no such pid)
    me = os.getpid()
    assert not processes.gone_since(me, time.time())  # alive, and alive then
    started = processes.started(me)
    assert started is not None and abs(started - time.time()) < 3600
    # Seen at a moment before this process started: whoever held the pid then is gone.
    assert processes.gone_since(me, started - 10 * processes.REUSED_AFTER_S)


def test_a_host_names_its_boot_and_pid_namespace():
    assert len(processes.boot_id()) == 36 and processes.pid_ns().startswith("pid:[")
    assert 0 < processes.boot_time() < time.time()
