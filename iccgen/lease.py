"""One driver per output: a lease file in OUT naming its owner, kept fresh by a heartbeat.

Two drivers on one OUT would each build their own dedup index and sweep each other's
temporaries, so the second is refused at start. A lease is taken over, its driver being gone,
when its heartbeat is older than the holder's own limit, or when the pid it names is dead where
that pid is ours to probe: the same host, boot and pid namespace (a container that shares the
host's name, `--uts=host` or a pod with hostNetwork, has pids of its own, so its live driver
would look dead). A lease this host wrote before its last boot is taken over at once.

On a local disk each step that reads the lease and then changes it (taking it: read, judge,
remove, create with O_EXCL; a heartbeat: check, rewrite; giving it back: check, delete) holds an
exclusive flock on OUT/_lease.lock, so of two drivers taking one stale lease at the same moment
the second finds the first's fresh lease and is refused, and a heartbeat never rewrites a lease
taken over in between. The lock file stays in OUT: removing it would let a driver that opened the
old file lock it while another locks a new one.

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
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from iccgen.errors import LeaseHeld, OutputError

LEASE_FILE = "_lease.json"
LOCK_FILE = "_lease.lock"
SETTLE_S = 0.5  # non-local stores: how long a competing write has to land before we read back


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


def _pid_dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading and writing ------------------------------------------------------------
    def read(self) -> LeaseRecord | None:
        if self.fs.get_file_info(self.path).type == pafs.FileType.NotFound:
            return None
        try:
            with self.fs.open_input_stream(self.path) as f:
                data = f.read()
        except FileNotFoundError:
            return None
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
            f.write(self._encoded())
            f.flush()
            os.fsync(f.fileno())
        return True

    def _overwrite(self) -> None:
        if self.local:  # replace whole, so a reader never sees half a record
            # Named after the lease (`_…`, in OUT itself): no listing of shards or of a job's
            # temporaries takes it; one left by a kill before the rename goes at the next take.
            tmp = f"{self.path}.{self.record.owner}.tmp"
            with open(tmp, "wb") as f:
                f.write(self._encoded())
            os.replace(tmp, self.path)
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
    def _locked(self) -> Iterator[None]:
        """On a local disk, one driver at a time between reading the lease and changing it."""
        if not self.local:
            yield
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)  # RDWR: flock on NFS needs it
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this driver dies
            except OSError as e:
                # A mount without locks (NFS without lockd, some FUSE): O_EXCL still keeps two
                # fresh drivers apart; only the takeover of a stale lease is left unguarded.
                if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
            yield
        finally:
            os.close(fd)

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
                    return
        raise LeaseHeld(f"{self.root}: another driver is taking this output at the same moment; "
                        "run one driver per --out")

    def _refuse_if_live(self, held: LeaseRecord) -> None:
        if not self._expired(held):
            raise LeaseHeld(
                f"{self.root} is in use by another iccgen driver ({held.describe()}, last "
                f"heartbeat {held.age(time.time()):.0f} s ago); wait for it to finish, stop it, "
                f"or choose another --out (a lease older than {held.stale_after_s:.0f} s is "
                "taken over)"
            )

    def _sweep_leftovers(self) -> None:
        """Delete the temporaries of heartbeats killed between writing and renaming (local disk:
        under the lock, no live driver is between the two)."""
        if self.local:
            for path in glob.glob(f"{glob.escape(self.path)}.*.tmp"):
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass

    def holder(self) -> LeaseRecord | None:
        """The driver that holds this output now, if any (read-only: takes nothing)."""
        held = self.read()
        return None if held is None or self._expired(held) else held

    def _expired(self, held: LeaseRecord) -> bool:
        if held.age(time.time()) > held.stale_after_s:
            return True
        if held.host != self.record.host:
            return False
        if held.boot_id != self.record.boot_id:
            # This host rebooted since (its driver died with it: it beat last before the boot),
            # or another machine with the same name whose driver beats on (a record of an older
            # iccgen, without a boot id, lands here too: its heartbeat decides).
            return held.heartbeat < _boot_time()
        if held.pid_ns != self.record.pid_ns:  # another container: its pids are not ours
            return False
        return held.pid != os.getpid() and _pid_dead(held.pid)

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
                with self._locked():
                    if not self.owned():
                        self.lost = True
                        return
                    self.record = LeaseRecord(**{**asdict(self.record), "heartbeat": time.time()})
                    self._overwrite()
            except (OSError, pa.ArrowException):
                continue  # a store hiccup: the next beat tries again well before the limit

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
        except (OSError, pa.ArrowException):
            pass  # left behind, it expires after stale_after_s

    def __enter__(self) -> "Lease":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
