"""Which process a pid names: the host's boot and pid namespace that make a pid comparable,
whether that process is alive, and when it started (so a reused pid is told from its first owner).
"""

from __future__ import annotations

import os
import time

#: a process started this long after a moment did not exist then: it holds a reused pid
#: (slack for the boot time, which /proc gives to 10 ms against a clock that may have moved)
REUSED_AFTER_S = 2.0


# Where /proc is missing (not Linux) there are no pid namespaces: both sides read "", and the host
# alone says whether a pid is comparable, as it always did there.
def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def pid_ns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def boot_time() -> float:
    """When this host booted (epoch seconds); 0 where unknown."""
    try:
        with open("/proc/uptime") as f:
            return time.time() - float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def started(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), where /proc says."""
    try:
        with open(f"/proc/{pid}/stat") as f:  # its name, in parentheses, may hold spaces
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
    except (OSError, ValueError, IndexError):
        return None
    return boot_time() + ticks / os.sysconf("SC_CLK_TCK")


def gone_since(pid: int, seen_alive_at: float) -> bool:
    """Whether the process that held `pid` at `seen_alive_at` (epoch seconds) has ended: none is
    left, or one started after that moment took the pid over."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    start = started(pid)
    return start is not None and start > seen_alive_at + REUSED_AFTER_S
