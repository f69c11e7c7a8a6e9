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

from iccgen import lock_file, processes
from iccgen.errors import LeaseHeld, OutputError
from iccgen.lock_file import LockFile
from iccgen.store import unreadable

LEASE_FILE = "_lease.json"
LOCK_FILE = "_lease.lock"
#: an object store's read that fails mid-answer (a 500, a stream dropped while another driver
#: deletes the key) is tried again: the lease is read on every beat and every take
READ_TRIES = 3
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


def _driver_gone(held: LeaseRecord) -> bool:
    """Whether the process `held.pid` on this host is not the driver that wrote `held` (a driver
    killed, OOM, and its pid reused would otherwise hold its lease for ever)."""
    return processes.gone_since(held.pid, held.heartbeat)


class Lease:
    """`with Lease(fs, root, stale_after_s):` holds OUT for this driver; `note` says what was
    taken over, `lost` whether another driver took it from us while we ran."""

    def __init__(self, fs: pafs.FileSystem, root: str, stale_after_s: float = 90.0):
        self.fs = fs
        self.path = f"{root.rstrip('/')}/{LEASE_FILE}"
        self.lock = LockFile(f"{root.rstrip('/')}/{LOCK_FILE}")
        self.root = root
        self.stale_after_s = stale_after_s
        self.local = isinstance(fs, pafs.LocalFileSystem)
        now = time.time()
        self.record = LeaseRecord(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now, now,
                                  stale_after_s, processes.boot_id(), processes.pid_ns())
        self.note = ""
        self.lost = False
        self._mode = 0o644  # the lease's, as the umask made it: each heartbeat's rewrite keeps it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading and writing ------------------------------------------------------------
    def read(self) -> LeaseRecord | None:
        data = self._read_bytes()
        if data is None:
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

    def _read_bytes(self) -> bytes | None:
        tries = 0
        while True:
            try:
                return self._read_once()
            except OSError as e:  # written 0600 under another's umask 077, a folder, the network
                tries += 1
                if self.local or isinstance(e, PermissionError) or tries == READ_TRIES:
                    raise unreadable(self.path, e) from None
            time.sleep(0.1 * 2 ** tries)

    def _read_once(self) -> bytes | None:
        try:
            if self.fs.get_file_info(self.path).type == pafs.FileType.NotFound:
                return None
            with self.fs.open_input_stream(self.path) as f:
                return f.read()
        except FileNotFoundError:
            return None

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
        """On a local disk, one driver at a time between reading the lease and changing it."""
        if not self.local:
            yield
            return
        with self.lock.held(wait_s, abandon):
            yield

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
                    self.note = "\n".join(filter(None, (self.note, self.lock.cannot_lock)))
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
                and held.heartbeat < processes.boot_time())

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
                with self._locked(min(lock_file.LOCK_WAIT_S, interval), abandon=self._stop):
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
