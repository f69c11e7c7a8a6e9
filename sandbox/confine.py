"""Confinement a forked child applies to itself before it reads the program.

Runs in the child, between fork and the program: its own session, rlimits, the unprivileged
user, no way back to privilege, and a seccomp filter. The order matters (see confine()).
"""
from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
from dataclasses import dataclass

from .limits import Limits
from .view import enter_private_view

NOBODY = 65534
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
_CLONE_THREAD = 0x00010000
# The "which" value meaning "a process" (PRIO_PROCESS, IOPRIO_WHO_PROCESS).
_PRIO_WHO_PROCESS = {"setpriority": 0, "ioprio_set": 1}


@dataclass(frozen=True)
class Plan:
    """Which optional layers this pool applies; decided once when the pool starts."""

    drop_to_nobody: bool
    seccomp: bool
    # Unprivileged hosts only: a user and mount namespace per child (see view.py).
    private_view: bool = False


def prctl(option: int, arg: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, arg, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}) failed: {os.strerror(err)}")


def vm_size_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def set_rlimits(limits: Limits) -> None:
    # The child inherits ~350 MB of mappings from the warm pool; memory_mb is what it may add.
    address_space = vm_size_bytes() + limits.memory_mb * 1024 * 1024
    cpu = max(1, int(limits.cpu_seconds + 0.999))
    wanted = {
        # Soft limit sends SIGXCPU; the hard limit one second later is SIGKILL.
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_AS: (address_space, address_space),
        resource.RLIMIT_FSIZE: (limits.file_size_mb * 1024 * 1024,) * 2,
        resource.RLIMIT_NPROC: (limits.max_processes,) * 2,
        resource.RLIMIT_NOFILE: (limits.max_open_files,) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, value in wanted.items():
        resource.setrlimit(which, value)


def drop_privileges() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def seccomp_filter():  # -> pyseccomp.SyscallFilter
    """Deny what a plotting program never needs: network, exec, new processes, touching others."""
    import pyseccomp as sc

    me = os.getpid()
    deny = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(sc.ALLOW)
    for name in ("socket", "socketpair", "execve", "execveat", "fork", "vfork", "ptrace",
                 "process_vm_readv", "process_vm_writev", "tkill", "pidfd_open",
                 "pidfd_send_signal", "pidfd_getfd", "mount", "umount2", "unshare", "setns",
                 "chroot", "pivot_root", "keyctl", "add_key", "request_key", "bpf",
                 "perf_event_open", "userfaultfd", "mknod", "mknodat"):
        f.add_rule(deny, name)
    # Threads are fine (clone with CLONE_THREAD); a new process is not.
    f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(sc.ERRNO(errno.ENOSYS), "io_uring_setup")
    # Siblings run as the same user, so the kernel would let them reach each other: every call
    # that names a process reaches only this one. Signals name it by its pid ...
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        f.add_rule(deny, name, sc.Arg(0, sc.NE, me))
    # ... the rest by 0, "the caller" (a rule compares an argument once, so 0 is the only way
    # to say "self"; glibc's own setrlimit and sched calls pass 0).
    for name in ("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam",
                 "sched_setattr", "get_robust_list", "migrate_pages", "move_pages"):
        f.add_rule(deny, name, sc.Arg(0, sc.NE, 0))
    for name in ("setpriority", "ioprio_set"):  # (which, who): only "this process" and who = 0
        f.add_rule(deny, name, sc.Arg(0, sc.NE, _PRIO_WHO_PROCESS[name]))
        f.add_rule(deny, name, sc.Arg(1, sc.NE, 0))
    # memfd pages escape RLIMIT_AS; the rest compare or touch other processes.
    for name in ("memfd_create", "memfd_secret", "kcmp", "process_madvise", "process_mrelease"):
        f.add_rule(deny, name)
    return f


def confine(limits: Limits, plan: Plan, workdir: str, pool_pid: int) -> None:
    os.setsid()
    if plan.private_view:
        enter_private_view(workdir)
    os.chdir(workdir)  # after the view: the bind mount is what makes this folder writable
    set_rlimits(limits)
    if plan.drop_to_nobody:
        drop_privileges()
    # After the uid change: changing credentials clears both settings.
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != pool_pid:  # the pool died before PDEATHSIG was armed
        os._exit(1)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if plan.seccomp:
        seccomp_filter().load()
