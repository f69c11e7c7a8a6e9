"""One driver per output: a lease file in OUT naming its owner, kept fresh by a heartbeat.

Two drivers on one OUT would each build their own dedup index and sweep each other's
temporaries, so the second is refused at start. A lease is taken over, its driver being gone,
where the pid it names is ours to probe (the same host, boot and pid namespace) by that pid
alone: dead, or reused by a process started after the lease's last heartbeat, it is gone at once;
alive, it is held whatever its heartbeat says (a driver stopped by Ctrl-Z, SIGSTOP or a debugger
is still running its job). Elsewhere, by its heartbeat: older than the holder's own limit, it is
gone (a container that shares the host's name, `--uts=host` or a pod with hostNetwork, has pids
of its own, so its live driver would look dead). A lease this host wrote before its last boot is
taken over at once.

On a local disk each step that reads the lease and then changes it (taking it: read, judge,
remove, create with O_EXCL; a heartbeat: check, rewrite; giving it back: check, delete) holds an
exclusive flock on OUT/_lease.lock, so of two drivers taking one stale lease at the same moment
the second finds the first's fresh lease and is refused, and a heartbeat never rewrites a lease
taken over in between. The lock file stays in OUT: removing it would let a driver that opened the
old file lock it while another locks a new one. Anyone who can read OUT can flock that file, so
the lock is only tried for LOCK_WAIT_S: a driver starting is refused, a heartbeat skips that beat,
giving the lease back leaves it to expire. A filesystem without locks takes the lease unguarded,
and the driver's note says so.

Object stores have neither locks nor an exclusive create through `pyarrow.fs`: the lease is
written, then read back after SETTLE_S, and the driver that does not find its own token there
gives way. On a store with read-after-write consistency (S3, GCS) that leaves exactly one owner
when each taker writes within SETTLE_S of its last read of the lease; a taker that stalls longer
between that read and its write (removing the other's lease on the way) can win alongside the
other, whose next heartbeat (a quarter of its limit later) finds the lease not its own and stops
that driver (`lost`): the two overlap for about one heartbeat interval, never for the whole job.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import os
import socket
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from iccgen.errors import LeaseHeld, OutputError
from iccgen.store import unreadable

LEASE_FILE = "_lease.json"
LOCK_FILE = "_lease.lock"
SETTLE_S = 0.5  # non-local stores: how long a competing write has to land before we read back
LOCK_WAIT_S = 5.0  # the lock is held for milliseconds; longer, another process sits on it
LOCK_POLL_S = 0.05
#: a process started this long after a lease's last heartbeat holds a reused pid, not its driver
#: (slack for the boot time, which /proc gives to 10 ms against a clock that may have moved)
REUSED_AFTER_S = 2.0
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


@dataclass(frozen=True)
class LeaseRecord:
    owner: str  # a token per driver run: the only thing compared to decide ownership
    host: str
    pid: int
    since: float  # when the driver took the lease (epoch seconds)
    heartbeat: float
    #: the holder's own limit: it beats at a quarter of it, so only past it is it surely gone
    #: (another job reading this lease, a --from check, may run with a different limit)
    stale_after_s: float = 90.0
    #: what makes `pid` comparable: the kernel's boot and the pid namespace it was written in
    #: (empty in a record of an older iccgen: then only its heartbeat tells)
    boot_id: str = ""
    pid_ns: str = ""

    def valid(self) -> bool:
        return (all(isinstance(v, str) for v in (self.owner, self.host, self.boot_id, self.pid_ns))
                and isinstance(self.pid, int)
                and all(isinstance(v, (int, float)) for v in (self.since, self.heartbeat,
                                                               self.stale_after_s)))

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        return f"pid {self.pid} on {self.host}, since {since}"

    def age(self, now: float) -> float:
        return now - self.heartbeat


# Where /proc is missing (not Linux) there are no pid namespaces: both sides read "", and the host
# alone says whether a pid is comparable, as it always did there.
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _pid_ns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _boot_time() -> float:
    """When this host booted (epoch seconds); 0 where unknown."""
    try:
        with open("/proc/uptime") as f:
            return time.time() - float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def _started(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), where /proc says."""
    try:
        with open(f"/proc/{pid}/stat") as f:  # its name, in parentheses, may hold spaces
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
    except (OSError, ValueError, IndexError):
        return None
    return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")


def _driver_gone(held: LeaseRecord) -> bool:
    """Whether the process `held.pid` on this host is not the driver that wrote `held`: none is
    left, or one started after its last heartbeat took the pid over (a driver killed, OOM, and
    its pid reused: its lease would be held for ever)."""
    try:
        os.kill(held.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    started = _started(held.pid)
    return started is not None and started > held.heartbeat + REUSED_AFTER_S


class Lease:
    """`with Lease(fs, root, stale_after_s):` holds OUT for this driver; `note` says what was
    taken over, `lost` whether another driver took it from us while we ran."""

    def __init__(self, fs: pafs.FileSystem, root: str, stale_after_s: float = 90.0):
        self.fs = fs
        self.path = f"{root.rstrip('/')}/{LEASE_FILE}"
        self.lock_path = f"{root.rstrip('/')}/{LOCK_FILE}"
        self.root = root
        self.stale_after_s = stale_after_s
        self.local = isinstance(fs, pafs.LocalFileSystem)
        now = time.time()
        self.record = LeaseRecord(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now, now,
                                  stale_after_s, _boot_id(), _pid_ns())
        self.note = ""
        self.lost = False
        self._mode = 0o644  # the lease's, as the umask made it: each heartbeat's rewrite keeps it
        self._cannot_lock = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading and writing ------------------------------------------------------------
    def read(self) -> LeaseRecord | None:
        try:
            if self.fs.get_file_info(self.path).type == pafs.FileType.NotFound:
                return None
            with self.fs.open_input_stream(self.path) as f:
                data = f.read()
        except FileNotFoundError:
            return None
        except PermissionError as e:  # written 0600 under another user's umask 077
            raise unreadable(self.path, e) from None
        try:
            record = LeaseRecord(**json.loads(data))
            if record.valid():
                return record
        except (ValueError, TypeError):
            pass
        # Torn (its driver died between creating and writing it, or is writing it now) or not
        # a lease at all: its age is the file's, so only one older than our limit is taken over.
        mtime = self.fs.get_file_info(self.path).mtime_ns or 0
        return LeaseRecord("", "an unknown host", 0, mtime / 1e9, mtime / 1e9, self.stale_after_s)

    def _encoded(self) -> bytes:
        return json.dumps(asdict(self.record)).encode()

    def _create_exclusive(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            self._mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            f.write(self._encoded())
            f.flush()
            os.fsync(f.fileno())
        return True

    def _overwrite(self) -> None:
        if self.local:  # replace whole, so a reader never sees half a record
            # mkstemp creates with O_EXCL under a name nobody knows beforehand: a link planted in
            # OUT is never written through. Named after the lease (`_…`, in OUT itself): no
            # listing of shards or of a job's temporaries takes it; one left by a kill before the
            # rename goes at the next take.
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f"{LEASE_FILE}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    os.fchmod(f.fileno(), self._mode)  # not mkstemp's 0600: others read the lease
                    f.write(self._encoded())
                os.replace(tmp, self.path)
            except OSError:
                os.remove(tmp)
                raise
        else:
            with self.fs.open_output_stream(self.path) as f:
                f.write(self._encoded())

    # -- taking and giving back ---------------------------------------------------------
    def acquire(self) -> None:
        """Take the lease or raise LeaseHeld naming the driver that holds it."""
        try:
            self.fs.create_dir(self.root, recursive=True)
            self._take()
        except (OSError, pa.ArrowException) as e:
            raise OutputError(f"{self.root}: output is not writable ({e}); choose another --out") from None
        self._thread = threading.Thread(target=self._beat, name="iccgen-lease", daemon=True)
        self._thread.start()

    @contextmanager
    def _locked(self, wait_s: float | None = None,
                abandon: threading.Event | None = None) -> Iterator[None]:
        """On a local disk, one driver at a time between reading the lease and changing it.
        Raises LeaseHeld if another process holds it past `wait_s` (LOCK_WAIT_S) or `abandon`."""
        if not self.local:
            yield
            return
        fd = self._open_lock()
        try:
            self._lock(fd, LOCK_WAIT_S if wait_s is None else wait_s, abandon)
            yield
        finally:
            os.close(fd)

    def _open_lock(self) -> int:
        # O_NOFOLLOW: a link planted here is refused, not followed; O_NONBLOCK: nor does a FIFO
        # hang the open. 0o666: the umask decides, so a shared folder's group can open it too.
        # RDWR where we may: flock on NFS needs it.
        flags = os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(self.lock_path, flags | os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError as e:  # another user's lock, not ours to write: flock reads too
            fd = self._open_lock_read_only(flags, e)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.EISDIR):
                raise self._not_a_lock() from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise self._not_a_lock()
        return fd

    def _open_lock_read_only(self, flags: int, refused: PermissionError) -> int:
        try:
            return os.open(self.lock_path, flags | os.O_RDONLY)
        except FileNotFoundError:  # no lock yet, and OUT not ours to write
            raise refused from None
        except OSError as e:
            raise OutputError(
                f"{self.lock_path}: cannot be opened ({e}); make it readable and writable by every "
                "user who runs a driver on this output (its mode or its group), then run the "
                "command again"
            ) from None

    def _not_a_lock(self) -> OutputError:
        return OutputError(
            f"{self.lock_path}: is not a regular file (a link, a folder or a device stands there, "
            "and iccgen makes none); remove it, seeing who put it there, then run the command again"
        )

    def _lock(self, fd: int, wait_s: float, abandon: threading.Event | None) -> None:
        # flock, not lockf: a POSIX lock belongs to the process, so two Leases in one (and the
        # heartbeat's thread) would not keep each other out, and closing any fd of the file drops
        # it; NFS clients already send flock to the server as a POSIX lock of the whole file.
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
                        f"{self.lock_path}: this filesystem locks only a file this user may write; "
                        "make it writable by every user who runs a driver on this output (its "
                        "mode or its group), then run the command again"
                    ) from None
                if e.errno not in _NO_LOCKS:
                    raise
                # A mount without locks (NFS without lockd, some FUSE): O_EXCL still keeps two
                # fresh drivers apart; only the takeover of a stale lease is left unguarded.
                self._cannot_lock = (
                    f"{self.lock_path}: this filesystem cannot lock files "
                    f"({os.strerror(e.errno)}), so two drivers taking over one stale lease at the "
                    "same moment are not kept apart; start one driver per --out at a time"
                )
                return
            if time.monotonic() >= deadline or (abandon is not None and abandon.is_set()):
                raise LeaseHeld(
                    f"{self.lock_path}: another process has held this lock for more than "
                    f"{wait_s:.0f} s (a driver stuck while taking this output, or anyone who can "
                    f"read OUT locking it); find it (`fuser -v {self.lock_path}`), stop it, then "
                    "run the command again"
                )
            time.sleep(LOCK_POLL_S)

    def _take(self) -> None:
        with self._locked():
            for _ in range(3):  # a stale lease removed under us by another taker: look again
                held = self.read()
                if held is not None:
                    self._refuse_if_live(held)
                    self.note = f"took over the lease of a driver that is gone ({held.describe()})"
                    if not self._remove_if(held):
                        continue
                if self._claim():
                    self._sweep_leftovers()
                    self.note = "\n".join(filter(None, (self.note, self._cannot_lock)))
                    return
        raise LeaseHeld(f"{self.root}: another driver is taking this output at the same moment; "
                        "run one driver per --out")

    def _refuse_if_live(self, held: LeaseRecord) -> None:
        if self._expired(held):
            return
        age = held.age(time.time())
        if age > held.stale_after_s:  # only a live pid on this host keeps a lease this old
            raise LeaseHeld(
                f"{self.root} is in use by another iccgen driver: pid {held.pid} on this host is "
                f"alive but its heartbeat is {age:.0f} s old (stopped? resume it, `kill -CONT "
                f"{held.pid}`, or kill it), then run the command again"
            )
        raise LeaseHeld(
            f"{self.root} is in use by another iccgen driver ({held.describe()}, last "
            f"heartbeat {age:.0f} s ago); wait for it to finish, stop it, or choose another "
            f"--out (a lease older than {held.stale_after_s:.0f} s is taken over)"
        )

    def _sweep_leftovers(self) -> None:
        """Delete the temporaries of heartbeats killed between writing and renaming (local disk:
        under the lock, no live driver is between the two); only files and links, not a folder
        someone named like one."""
        if self.local:
            for path in glob.glob(f"{glob.escape(self.path)}.*.tmp"):
                try:
                    mode = os.lstat(path).st_mode
                    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
                        os.remove(path)  # a link itself, never what it points to
                except OSError:
                    pass  # gone already, or not ours to remove: it harms no run

    def holder(self) -> LeaseRecord | None:
        """The driver that holds this output now, if any (read-only: takes nothing)."""
        held = self.read()
        return None if held is None or self._expired(held) else held

    def _expired(self, held: LeaseRecord) -> bool:
        if self._probeable(held):
            return _driver_gone(held)
        if held.age(time.time()) > held.stale_after_s:
            return True
        # This host rebooted since (its driver died with it: it beat last before the boot), or
        # another machine with the same name whose driver beats on (a record of an older iccgen,
        # without a boot id, lands here too: its heartbeat decides).
        return (held.host == self.record.host and held.boot_id != self.record.boot_id
                and held.heartbeat < _boot_time())

    def _probeable(self, held: LeaseRecord) -> bool:
        """Whether `held.pid` is a process we can ask about: the same host, boot and pid namespace
        (another container's pids are not ours), and not us (our pid in a lease not ours is
        another Lease of this process, or a driver whose pid we reuse: its heartbeat tells)."""
        return (held.host == self.record.host and held.boot_id == self.record.boot_id
                and held.pid_ns == self.record.pid_ns and held.pid != os.getpid())

    def _remove_if(self, held: LeaseRecord) -> bool:
        """Delete the lease only if it is still the one judged stale."""
        if self.read() != held:
            return False
        try:
            self.fs.delete_file(self.path)
        except FileNotFoundError:
            return False
        return True

    def _claim(self) -> bool:
        if self.local:
            if not self._create_exclusive():
                return False
        else:
            self._overwrite()
            time.sleep(SETTLE_S)
        return self.owned()

    def owned(self) -> bool:
        held = self.read()
        return held is not None and held.owner == self.record.owner

    def _beat(self) -> None:
        interval = max(self.stale_after_s / 4, 0.05)
        while not self._stop.wait(interval):
            try:
                with self._locked(min(LOCK_WAIT_S, interval), abandon=self._stop):
                    if not self.owned():
                        self.lost = True
                        return
                    self.record = LeaseRecord(**{**asdict(self.record), "heartbeat": time.time()})
                    self._overwrite()
            except (OSError, pa.ArrowException, OutputError):
                # a store hiccup, the lock held elsewhere: the next beat tries again well before
                # the limit
                continue

    def confirm(self) -> None:
        """Raise if another driver took the lease while we ran: its work and ours overlapped."""
        if self.lost:
            held = self.read()
            by = f" by {held.describe()}" if held else ""
            raise LeaseHeld(
                f"{self.root}: this driver's lease was taken over{by} while it ran (its heartbeat "
                f"stalled for more than {self.stale_after_s:.0f} s); let that driver finish, then "
                "rerun the same command to check the output"
            )

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            with self._locked():
                if self.owned():
                    self.fs.delete_file(self.path)
        except (OSError, pa.ArrowException, OutputError):
            pass  # left behind, it expires after stale_after_s (here, once this driver exits)

    def __enter__(self) -> "Lease":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
