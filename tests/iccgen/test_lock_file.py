"""The lock in OUT: one holder at a time, never held against us for long, never a planted file.

How the lease uses it (a new driver refused, heartbeats skipped) is in test_lease.py.
"""

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from iccgen import lock_file
from iccgen.errors import LeaseHeld, OutputError
from iccgen.lock_file import LockFile


def try_to_hold(path, **kwargs) -> BaseException | None:
    """What a second holder's `held()` raised in a thread of its own, or None if it got in."""
    outcome: list = []

    def hold():
        try:
            with LockFile(str(path)).held(**kwargs):
                outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - reported to the test
            outcome.append(e)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    thread.join(10)
    assert outcome, "held() hung"
    return outcome[0]


def test_one_holder_at_a_time_even_within_one_process(tmp_path):
    lock = tmp_path / "lock"
    with LockFile(str(lock)).held():
        refused = try_to_hold(lock, wait_s=0.2)
    assert isinstance(refused, LeaseHeld)
    assert str(refused).startswith(f"{lock}: another process has held this lock for more than 0 s")
    assert f"fuser -v {lock}" in str(refused)
    assert try_to_hold(lock, wait_s=0.2) is None  # released on leaving the block


def test_a_holder_that_lets_go_in_time_lets_the_waiter_in(tmp_path):
    lock = tmp_path / "lock"
    holder = LockFile(str(lock)).held()
    holder.__enter__()
    threading.Timer(0.2, holder.__exit__, (None, None, None)).start()
    assert try_to_hold(lock, wait_s=5) is None


def test_abandon_ends_the_wait_early(tmp_path):
    lock, abandon = tmp_path / "lock", threading.Event()
    with LockFile(str(lock)).held():
        threading.Timer(0.1, abandon.set).start()
        t0 = time.monotonic()
        refused = try_to_hold(lock, wait_s=30, abandon=abandon)
    assert isinstance(refused, LeaseHeld) and time.monotonic() - t0 < 5


def test_a_killed_holder_leaves_the_lock_free(tmp_path):
    lock = tmp_path / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | "
         "os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
         str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert isinstance(try_to_hold(lock, wait_s=0.2), LeaseHeld)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert try_to_hold(lock, wait_s=0.2) is None
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("planted", ["link", "dangling link", "folder", "fifo"])
def test_anything_but_a_regular_file_is_refused_and_left_alone(tmp_path, planted):
    lock, precious = tmp_path / "lock", tmp_path / "precious"
    precious.write_text("keep")
    {"link": lambda: lock.symlink_to(precious),
     "dangling link": lambda: lock.symlink_to(tmp_path / "made-through-the-link"),
     "folder": lock.mkdir, "fifo": lambda: os.mkfifo(lock)}[planted]()
    refused = try_to_hold(lock)
    assert isinstance(refused, OutputError) and not isinstance(refused, LeaseHeld)
    assert str(refused).startswith(f"{lock}: is not a regular file (")
    assert precious.read_text() == "keep" and not (tmp_path / "made-through-the-link").exists()


def test_the_lock_is_made_as_the_umask_allows_so_a_group_can_share_it(tmp_path):
    old = os.umask(0o002)
    try:
        with LockFile(str(tmp_path / "lock")).held():
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "lock").st_mode) == 0o664


def test_a_filesystem_without_locks_lets_the_holder_through_and_says_why(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock_file.fcntl, "flock", no_locks)
    lock = LockFile(str(tmp_path / "lock"))
    assert lock.cannot_lock == ""
    with lock.held():
        pass
    assert lock.cannot_lock.startswith(f"{tmp_path / 'lock'}: this filesystem cannot lock files "
                                       "(No locks available)")


def test_another_locking_error_is_not_taken_for_a_filesystem_without_locks(tmp_path, monkeypatch):
    def broken(fd, operation):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(lock_file.fcntl, "flock", broken)
    lock = LockFile(str(tmp_path / "lock"))
    with pytest.raises(OSError, match="Input/output error"), lock.held():
        pass
    assert lock.cannot_lock == ""
