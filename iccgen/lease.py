"""One driver per output: a lease file in OUT naming its owner, kept fresh by a heartbeat.

Two drivers on one OUT would each build their own dedup index and sweep each other's
temporaries, so the second is refused at start. A lease whose heartbeat is older than the limit,
or whose driver is a dead process on this host, is taken over: its driver is gone.

On a local disk the lease is created with O_EXCL, so exactly one of two racing drivers wins. Other
filesystems (object stores) have no exclusive create through `pyarrow.fs`: the lease is written,
then read back after a short settle time, and the driver that does not find its own token there
gives way; a store with read-after-write consistency (S3, GCS) makes that decide between drivers
that start more than the settle time apart.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from iccgen.errors import LeaseHeld, OutputError

LEASE_FILE = "_lease.json"
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

    def valid(self) -> bool:
        return (isinstance(self.owner, str) and isinstance(self.host, str)
                and isinstance(self.pid, int)
                and all(isinstance(v, (int, float)) for v in (self.since, self.heartbeat,
                                                               self.stale_after_s)))

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        return f"pid {self.pid} on {self.host}, since {since}"

    def age(self, now: float) -> float:
        return now - self.heartbeat


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
        self.root = root
        self.stale_after_s = stale_after_s
        self.local = isinstance(fs, pafs.LocalFileSystem)
        now = time.time()
        self.record = LeaseRecord(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now, now,
                                  stale_after_s)
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

    def _take(self) -> None:
        for _ in range(3):  # a stale lease removed under us by another taker: look again
            held = self.read()
            if held is not None and not self._expired(held):
                raise LeaseHeld(
                    f"{self.root} is in use by another iccgen driver ({held.describe()}, last "
                    f"heartbeat {held.age(time.time()):.0f} s ago); wait for it to finish, stop it, "
                    f"or choose another --out (a lease older than {held.stale_after_s:.0f} s is "
                    "taken over)"
                )
            if held is not None:
                self.note = f"took over the lease of a driver that is gone ({held.describe()})"
                if not self._remove_if(held):
                    continue
            if self._claim():
                return
        raise LeaseHeld(f"{self.root}: another driver is taking this output at the same moment; "
                        "run one driver per --out")

    def holder(self) -> LeaseRecord | None:
        """The driver that holds this output now, if any (read-only: takes nothing)."""
        held = self.read()
        return None if held is None or self._expired(held) else held

    def _expired(self, held: LeaseRecord) -> bool:
        if held.age(time.time()) > held.stale_after_s:
            return True
        return held.host == self.record.host and held.pid != os.getpid() and _pid_dead(held.pid)

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
            if self.owned():
                self.fs.delete_file(self.path)
        except (OSError, pa.ArrowException):
            pass  # left behind, it expires after stale_after_s

    def __enter__(self) -> "Lease":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
