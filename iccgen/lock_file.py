"""An exclusive lock on a file in OUT that no one can hold against us for long.

flock, not lockf: a POSIX lock belongs to the process, so two holders in one (a driver and its
heartbeat thread, two Leases in a test) would not keep each other out, and closing any fd of the
file drops it; NFS clients already send flock to the server as a POSIX lock of the whole file.
Anyone who can read the file can flock it, so the lock is only tried for LOCK_WAIT_S.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from iccgen.errors import LeaseHeld, OutputError

LOCK_WAIT_S = 5.0  # the lock is held for milliseconds; longer, another process sits on it
LOCK_POLL_S = 0.05
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


class LockFile:
    """`with LockFile(path).held():` one process at a time; `cannot_lock` says why a filesystem
    without locks let us through unguarded."""

    def __init__(self, path: str):
        self.path = path
        self.cannot_lock = ""

    @contextmanager
    def held(self, wait_s: float | None = None,
             abandon: threading.Event | None = None) -> Iterator[None]:
        """Raises LeaseHeld if another process holds it past `wait_s` (LOCK_WAIT_S) or `abandon`."""
        fd = self._open()
        try:
            self._lock(fd, LOCK_WAIT_S if wait_s is None else wait_s, abandon)
            yield
        finally:
            os.close(fd)

    def _open(self) -> int:
        # O_NOFOLLOW: a link planted here is refused, not followed; O_NONBLOCK: nor does a FIFO
        # hang the open. 0o666: the umask decides, so a shared folder's group can open it too.
        # RDWR where we may: flock on NFS needs it.
        flags = os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(self.path, flags | os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError as e:  # another user's lock, not ours to write: flock reads too
            fd = self._open_read_only(flags, e)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.EISDIR):
                raise self._not_a_lock() from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise self._not_a_lock()
        return fd

    def _open_read_only(self, flags: int, refused: PermissionError) -> int:
        try:
            return os.open(self.path, flags | os.O_RDONLY)
        except FileNotFoundError:  # no lock yet, and OUT not ours to write
            raise refused from None
        except OSError as e:
            raise OutputError(
                f"{self.path}: cannot be opened ({e}); make it readable and writable by every "
                "user who runs a driver on this output (its mode or its group), then run the "
                "command again"
            ) from None

    def _not_a_lock(self) -> OutputError:
        return OutputError(
            f"{self.path}: is not a regular file (a link, a folder or a device stands there, "
            "and iccgen makes none); remove it, seeing who put it there, then run the command again"
        )

    def _lock(self, fd: int, wait_s: float, abandon: threading.Event | None) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the kernel frees it if we die
                return
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno == errno.EBADF:  # opened read-only, where locking needs it writable
                    raise OutputError(
                        f"{self.path}: this filesystem locks only a file this user may write; "
                        "make it writable by every user who runs a driver on this output (its "
                        "mode or its group), then run the command again"
                    ) from None
                if e.errno not in _NO_LOCKS:
                    raise
                # A mount without locks (NFS without lockd, some FUSE): O_EXCL still keeps two
                # fresh drivers apart; only the takeover of a stale lease is left unguarded.
                self.cannot_lock = (
                    f"{self.path}: this filesystem cannot lock files "
                    f"({os.strerror(e.errno)}), so two drivers taking over one stale lease at the "
                    "same moment are not kept apart; start one driver per --out at a time"
                )
                return
            if time.monotonic() >= deadline or (abandon is not None and abandon.is_set()):
                raise LeaseHeld(
                    f"{self.path}: another process has held this lock for more than "
                    f"{wait_s:.0f} s (a driver stuck while taking this output, or anyone who can "
                    f"read OUT locking it); find it (`fuser -v {self.path}`), stop it, then "
                    "run the command again"
                )
            time.sleep(LOCK_POLL_S)
