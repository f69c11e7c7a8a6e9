"""One driver per OUT: the lease on a local disk and through a generic pyarrow filesystem."""

import errno
import fcntl
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from iccgen import lock_file
from iccgen.errors import LeaseHeld, OutputError
from iccgen.lease import LEASE_FILE, LOCK_FILE, Lease
from iccgen.store import ShardStore
from tests.users import NOBODY, as_nobody, needs_root, open_folder


@pytest.fixture(params=["local", "generic", "s3", "gs"])
def where(request, tmp_path):
    """(filesystem, root): the local disk (O_EXCL); a filesystem that is not LocalFileSystem, so
    the lease takes the object-store path (write, settle, read back); and that path on a real
    S3 server (moto's) and a GCS emulator, both on 127.0.0.1."""
    if request.param == "local":
        return pafs.LocalFileSystem(), str(tmp_path / "out")
    if request.param in ("s3", "gs"):
        store = ShardStore(request.getfixturevalue(f"{request.param}_out"))
        return store.fs, store.root
    (tmp_path / "sub").mkdir()
    return pafs.SubTreeFileSystem(str(tmp_path / "sub"), pafs.LocalFileSystem()), "out"


def plant(fs, root, **fields) -> dict:
    """A lease as another driver would have left it."""
    now = time.time()
    record = {"owner": "other", "host": "elsewhere", "pid": 1, "since": now - 3600,
              "heartbeat": now, **fields}
    fs.create_dir(root, recursive=True)
    with fs.open_output_stream(f"{root}/{LEASE_FILE}") as f:
        f.write(json.dumps(record).encode())
    return record


def here() -> dict:
    """The fields that make a lease's pid comparable with this process's."""
    record = Lease(pafs.LocalFileSystem(), "unused").record
    return {"host": record.host, "boot_id": record.boot_id, "pid_ns": record.pid_ns}


def dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def boot_time() -> float:
    with open("/proc/uptime") as f:
        return time.time() - float(f.read().split()[0])


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@contextmanager
def locked_by_a_reader(path):
    """`path` flocked through a read-only fd, as anyone who can read OUT can."""
    path.touch()
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)


def in_a_thread(fn, timeout: float) -> list:
    """[what fn returned or raised], or [] if it was still running after `timeout`."""
    out: list = []

    def run():
        try:
            out.append(fn())
        except Exception as e:  # noqa: BLE001 - reported to the test
            out.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return out


def test_second_driver_is_refused_naming_the_owner(where):
    fs, root = where
    with Lease(fs, root) as first:
        held = first.read()
        assert held.host == socket.gethostname() and held.owner == first.record.owner
        with pytest.raises(LeaseHeld) as err:
            Lease(fs, root).acquire()
        assert f"pid {held.pid} on {held.host}, since " in str(err.value)
        assert "choose another --out" in str(err.value)
        assert first.owned()
    assert fs.get_file_info(f"{root}/{LEASE_FILE}").type == pafs.FileType.NotFound


def test_stale_lease_is_taken_over_with_a_note(where):
    fs, root = where
    plant(fs, root, heartbeat=time.time() - 200)
    with Lease(fs, root, stale_after_s=60) as lease:
        assert lease.owned() and "took over" in lease.note and "pid 1 on elsewhere" in lease.note
    with pytest.raises(LeaseHeld):  # the same lease, fresh, is kept
        plant(fs, root, heartbeat=time.time() - 10)
        Lease(fs, root, stale_after_s=60).acquire()


def test_dead_driver_on_this_host_is_taken_over_at_once(tmp_path):
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    gone = dead_pid()
    plant(fs, root, **here(), pid=gone)
    with Lease(fs, root) as lease:
        assert lease.owned() and f"pid {gone}" in lease.note
    alive = sleeper()
    try:
        plant(fs, root, **here(), pid=alive.pid)
        with pytest.raises(LeaseHeld, match=f"pid {alive.pid}"):
            Lease(fs, root).acquire()
    finally:
        alive.kill()
        alive.wait()


def test_a_stopped_driver_on_this_host_is_held_whatever_its_heartbeat(tmp_path):
    """Ctrl-Z, SIGSTOP or a debugger stop the heartbeat, not the job: a live pid on this host
    keeps its lease, and the second driver is told what to do about it."""
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    stopped = sleeper()
    os.kill(stopped.pid, signal.SIGSTOP)
    try:
        plant(fs, root, **here(), pid=stopped.pid, heartbeat=time.time(), stale_after_s=0.3)
        time.sleep(0.5)  # past its limit, and it started before its heartbeat: it is that driver
        with pytest.raises(LeaseHeld) as err:
            Lease(fs, root).acquire()
        assert f"pid {stopped.pid} on this host is alive but its heartbeat is " in str(err.value)
        assert "s old (stopped? resume it, `kill -CONT" in str(err.value)
        assert Lease(fs, root).holder() is not None  # a --from check waits for it too
    finally:
        stopped.kill()
        stopped.wait()
    with Lease(fs, root) as lease:
        assert lease.owned() and f"driver that is gone (pid {stopped.pid} on " in lease.note


def test_a_pid_reused_since_the_last_heartbeat_is_not_the_driver(tmp_path):
    """A driver killed (OOM) whose pid a later process took: its lease is not held for ever."""
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    later = sleeper()  # started 10 s after the lease's last heartbeat
    try:
        plant(fs, root, **here(), pid=later.pid, heartbeat=time.time() - 10)
        with Lease(fs, root) as lease:
            assert lease.owned() and f"pid {later.pid}" in lease.note
    finally:
        later.kill()
        later.wait()


def test_a_lease_naming_this_process_is_judged_by_its_heartbeat(tmp_path):
    """Our own pid in a lease not ours (another Lease of this process, or a driver whose pid we
    took over) proves nothing either way."""
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    plant(fs, root, **here(), pid=os.getpid())
    with pytest.raises(LeaseHeld, match=f"pid {os.getpid()} on .*last heartbeat 0 s ago"):
        Lease(fs, root, stale_after_s=60).acquire()
    assert Lease(fs, root, stale_after_s=60).holder() is not None
    plant(fs, root, **here(), pid=os.getpid(), heartbeat=time.time() - 120, stale_after_s=60)
    assert Lease(fs, root).holder() is None
    with Lease(fs, root, stale_after_s=60) as lease:
        assert lease.owned()


def test_heartbeat_keeps_the_lease_fresh_past_the_limit(where):
    fs, root = where
    with Lease(fs, root, stale_after_s=1) as lease:
        time.sleep(1.6)
        held = lease.read()
        assert held.owner == lease.record.owner and time.time() - held.heartbeat < 1
        with pytest.raises(LeaseHeld):
            Lease(fs, root, stale_after_s=1).acquire()


def test_lease_taken_from_a_running_driver_is_reported(tmp_path):
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    lease = Lease(fs, root, stale_after_s=0.4)
    lease.acquire()
    plant(fs, root)  # another driver judged us stale and took over
    time.sleep(0.5)
    lease.release()
    assert lease.lost
    with pytest.raises(LeaseHeld, match="taken over by pid 1 on elsewhere"):
        lease.confirm()
    assert fs.get_file_info(f"{root}/{LEASE_FILE}").type == pafs.FileType.File  # theirs is kept


def test_torn_lease_is_held_until_it_is_old(tmp_path):
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    (tmp_path / LEASE_FILE).write_text("{")
    with pytest.raises(LeaseHeld, match="an unknown host"):
        Lease(fs, root, stale_after_s=60).acquire()
    old = time.time() - 120
    os.utime(tmp_path / LEASE_FILE, (old, old))
    with Lease(fs, root, stale_after_s=60) as lease:
        assert lease.owned()


def test_a_lease_that_is_not_a_record_is_held_as_torn(tmp_path):
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    plant(fs, root, heartbeat="now")  # valid JSON, wrong types: no TypeError out of acquire
    with pytest.raises(LeaseHeld, match="an unknown host"):
        Lease(fs, root, stale_after_s=60).acquire()


def test_the_holders_own_limit_decides_when_it_is_gone(tmp_path):
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    plant(fs, root, heartbeat=time.time() - 120, stale_after_s=600)  # beats every 150 s
    assert Lease(fs, root, stale_after_s=60).holder() is not None  # e.g. a --from check
    with pytest.raises(LeaseHeld, match="older than 600 s"):
        Lease(fs, root, stale_after_s=60).acquire()
    plant(fs, root, heartbeat=time.time() - 700, stale_after_s=600)
    with Lease(fs, root, stale_after_s=60) as lease:
        assert lease.owned()


def test_a_pid_from_another_pid_namespace_is_not_probed(tmp_path):
    """A container sharing this host's name (--uts=host, hostNetwork) has pids of its own: one
    dead here may be its live driver, so only the heartbeat says it is gone."""
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    gone = dead_pid()
    plant(fs, root, **{**here(), "pid_ns": "pid:[1]"}, pid=gone)
    with pytest.raises(LeaseHeld, match=f"pid {gone} on "):
        Lease(fs, root, stale_after_s=60).acquire()
    plant(fs, root, **{**here(), "pid_ns": "pid:[1]"}, pid=gone, heartbeat=time.time() - 120)
    with Lease(fs, root, stale_after_s=60) as lease:
        assert lease.owned()


def test_a_lease_of_an_older_iccgen_is_judged_by_its_heartbeat(tmp_path):
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    gone = dead_pid()
    plant(fs, root, host=socket.gethostname(), pid=gone)  # no boot id, no pid namespace
    with pytest.raises(LeaseHeld, match=f"pid {gone} on "):
        Lease(fs, root, stale_after_s=60).acquire()
    plant(fs, root, host=socket.gethostname(), pid=gone, heartbeat=time.time() - 120)
    with Lease(fs, root, stale_after_s=60) as lease:
        assert lease.owned()


def test_a_lease_from_before_this_hosts_boot_is_taken_over_at_once(tmp_path):
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    booted = boot_time()
    limit = time.time() - booted + 3600  # a holder's limit longer than this host's uptime
    before = {**here(), "boot_id": "another-boot", "pid": 1, "stale_after_s": limit}
    plant(fs, root, **before, heartbeat=booted - 10)  # pid 1 is alive now, but not that driver
    with Lease(fs, root) as lease:
        assert lease.owned() and "took over" in lease.note
    # Another boot id and a heartbeat since this boot: another machine with the same name
    plant(fs, root, **before, heartbeat=time.time())
    with pytest.raises(LeaseHeld, match="pid 1 on "):
        Lease(fs, root).acquire()


def pause_after_reread(lease: Lease) -> tuple[threading.Event, threading.Event]:
    """Stop `lease` between its re-read of the lease it judged stale and its delete of it:
    (reached, go)."""
    reached, go = threading.Event(), threading.Event()
    read, reads = lease.read, []

    def paused_read():
        held = read()
        reads.append(held)
        if len(reads) == 2:  # the first read judges, the second (`_remove_if`) re-reads
            reached.set()
            go.wait(10)
        return held

    lease.read = paused_read
    return reached, go


def taking(lease: Lease, outcome: dict) -> threading.Thread:
    def take():
        try:
            lease.acquire()
            outcome[lease.record.owner] = "won"
        except LeaseHeld:
            outcome[lease.record.owner] = "refused"

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


def test_two_drivers_taking_one_stale_lease_at_once_leave_one_owner(where):
    """`second` has judged the lease stale and re-read it; `first` runs meanwhile (on a local
    disk it waits for the lock; on a store it removes the stale lease and writes its own), then
    `second` goes on, removing what it thinks is the stale lease."""
    fs, root = where
    plant(fs, root, heartbeat=time.time() - 200)
    first, second = Lease(fs, root, stale_after_s=60), Lease(fs, root, stale_after_s=60)
    reached, go = pause_after_reread(second)
    outcome: dict[str, str] = {}
    threads = [taking(second, outcome)]
    try:
        assert reached.wait(10)
        threads.append(taking(first, outcome))
        deadline = time.time() + 1
        while not first.owned() and time.time() < deadline:
            time.sleep(0.01)
    finally:
        go.set()
    for thread in threads:
        thread.join(10)
    try:
        assert sorted(outcome.values()) == ["refused", "won"]
        assert [lease.owned() for lease in (first, second)].count(True) == 1
    finally:
        first.release()
        second.release()


def test_a_taker_stalled_past_the_settle_time_is_stopped_by_the_others_heartbeat(where):
    """An object store has no lock: a taker stalled longer than SETTLE_S between re-reading the
    stale lease and writing its own wins alongside the other, whose next heartbeat finds its
    lease gone and marks it lost."""
    fs, root = where
    if isinstance(fs, pafs.LocalFileSystem):
        pytest.skip("on a local disk the lock keeps the other taker waiting")
    plant(fs, root, heartbeat=time.time() - 200)
    first, second = Lease(fs, root, stale_after_s=2), Lease(fs, root, stale_after_s=2)
    reached, go = pause_after_reread(second)
    outcome: dict[str, str] = {}
    thread = taking(second, outcome)
    try:
        assert reached.wait(10)
        first.acquire()
    finally:
        go.set()
    thread.join(10)
    try:
        assert outcome == {second.record.owner: "won"}
        deadline = time.time() + 3
        while not first.lost and time.time() < deadline:  # beats every 0.5 s
            time.sleep(0.05)
        assert first.lost and second.owned()
    finally:
        first.release()
        second.release()


def test_a_heartbeat_killed_before_its_rename_leaves_nothing_behind(tmp_path):
    out = tmp_path / "out"
    store = ShardStore(str(out))
    store.commit("solid", 0, pa.table({"x": [1]}), {})
    # named as mkstemp names them now, and as an older iccgen named them
    leftovers = [out / f"{LEASE_FILE}.k3_x9qzw.tmp", out / f"{LEASE_FILE}.{'0' * 32}.tmp"]
    for leftover in leftovers:
        leftover.write_text('{"owner": "gone"')
    (out / LOCK_FILE).touch()
    # Meanwhile nothing takes them for shards, pipelines or a job's temporaries
    assert store.pipelines() == ["solid"] and list(store.shard_infos("solid")) == [0]
    assert store.temporaries() == []
    assert [p.relative_to(out).as_posix() for p in out.glob("*/*.parquet")] == [
        "solid/part-00000.parquet"]
    with Lease(store.fs, store.root, stale_after_s=0.2) as lease:
        assert not any(leftover.exists() for leftover in leftovers)
        time.sleep(0.3)  # a few heartbeats: each renames its own temporary away
        assert lease.owned() and not list(out.glob(f"{LEASE_FILE}.*"))
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "solid"]


def test_a_link_planted_as_the_heartbeats_temporary_is_not_written_through(tmp_path):
    """The owner token is in the lease for all to read: a temporary named after it could be a
    link to any file the driver may write."""
    out, precious = tmp_path / "out", tmp_path / "precious"
    precious.write_text("keep")
    with umask(0o022), Lease(pafs.LocalFileSystem(), str(out), stale_after_s=0.2) as lease:
        (out / f"{LEASE_FILE}.{lease.record.owner}.tmp").symlink_to(precious)
        time.sleep(0.3)  # a few heartbeats
        assert lease.owned() and precious.read_text() == "keep"
        assert stat.S_IMODE((out / LEASE_FILE).stat().st_mode) == 0o644  # not mkstemp's 0600


def test_the_sweep_of_leftovers_removes_only_files_and_links(tmp_path):
    out, precious = tmp_path / "out", tmp_path / "precious"
    precious.write_text("keep")
    out.mkdir()
    folder = out / f"{LEASE_FILE}.folder.tmp"  # named like a temporary: no run may fail on it
    folder.mkdir()
    (folder / "inside").write_text("kept")
    link = out / f"{LEASE_FILE}.link.tmp"
    link.symlink_to(precious)
    with Lease(pafs.LocalFileSystem(), str(out)) as lease:
        assert lease.owned()
    assert (folder / "inside").read_text() == "kept"
    assert not os.path.lexists(link) and precious.read_text() == "keep"


@pytest.mark.parametrize("planted", ["link", "folder", "fifo"])
def test_a_lock_file_that_is_not_a_file_is_refused_naming_it(tmp_path, planted):
    out, precious = tmp_path / "out", tmp_path / "precious"
    precious.write_text("keep")
    out.mkdir()
    lock = out / LOCK_FILE
    {"link": lambda: lock.symlink_to(precious), "folder": lock.mkdir,
     "fifo": lambda: os.mkfifo(lock)}[planted]()
    outcome = in_a_thread(Lease(pafs.LocalFileSystem(), str(out)).acquire, timeout=5)
    assert outcome, "acquire hung on the lock file"
    assert isinstance(outcome[0], OutputError) and not isinstance(outcome[0], LeaseHeld)
    assert str(outcome[0]).startswith(f"{lock}: is not a regular file (")
    assert "remove it" in str(outcome[0]) and precious.read_text() == "keep"
    assert not (out / LEASE_FILE).exists()


def test_a_lock_held_by_a_reader_refuses_a_new_driver_without_hanging(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_file, "LOCK_WAIT_S", 0.3)
    (tmp_path / "out").mkdir()
    with locked_by_a_reader(tmp_path / "out" / LOCK_FILE):
        outcome = in_a_thread(Lease(pafs.LocalFileSystem(), str(tmp_path / "out")).acquire, 5)
    assert outcome, "acquire waited for the lock for ever"
    assert isinstance(outcome[0], LeaseHeld)
    assert str(outcome[0]).startswith(f"{tmp_path / 'out' / LOCK_FILE}: another process has held")
    assert not (tmp_path / "out" / LEASE_FILE).exists()


def test_a_lock_held_by_a_reader_skips_heartbeats_and_lets_release_return(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_file, "LOCK_WAIT_S", 0.3)
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    lease = Lease(fs, root, stale_after_s=0.4)  # beats every 0.1 s
    lease.acquire()
    try:
        with locked_by_a_reader(tmp_path / LOCK_FILE):
            frozen = lease.read().heartbeat
            time.sleep(0.4)
            assert lease.read().heartbeat == frozen  # each beat found the lock taken and skipped
        time.sleep(0.3)
        assert lease.read().heartbeat > frozen and not lease.lost  # the next beats went on
        with locked_by_a_reader(tmp_path / LOCK_FILE):
            assert in_a_thread(lease.release, timeout=3) == [None], "release hung on the lock"
        assert lease.read().owner == lease.record.owner  # left behind, to expire
    finally:
        lease.release()


def test_a_filesystem_without_locks_says_so_in_the_note(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock_file.fcntl, "flock", no_locks)
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    plant(fs, root, heartbeat=time.time() - 200)
    with Lease(fs, root, stale_after_s=60) as lease:
        assert lease.owned()
        took_over, cannot_lock = lease.note.split("\n")
    assert took_over.startswith("took over the lease of a driver that is gone (pid 1 on elsewhere")
    assert cannot_lock == (
        f"{tmp_path / LOCK_FILE}: this filesystem cannot lock files (No locks available), so two "
        "drivers taking over one stale lease at the same moment are not kept apart; start one "
        "driver per --out at a time")


@needs_root
def test_a_shared_folders_group_takes_the_lease_after_another_user():
    """A folder shared by a group (setgid, umask 002): the lock the first user made is the
    group's to lock too."""
    with open_folder() as folder, umask(0o002):
        os.chown(folder, 0, NOBODY)
        os.chmod(folder, 0o2775)
        with Lease(pafs.LocalFileSystem(), folder):
            pass
        assert stat.S_IMODE(os.stat(f"{folder}/{LOCK_FILE}").st_mode) == 0o664

        def take() -> bool:
            with Lease(pafs.LocalFileSystem(), folder) as lease:
                return lease.owned()

        assert as_nobody(take) == ["ok", True]


@needs_root
def test_a_lock_this_user_may_only_read_is_locked_through_a_read_only_fd():
    with open_folder() as folder:
        os.chmod(folder, 0o777)
        lock = f"{folder}/{LOCK_FILE}"
        open(lock, "w").close()
        os.chmod(lock, 0o644)  # another user's, as an older iccgen made it

        def take() -> bool:
            with Lease(pafs.LocalFileSystem(), folder) as lease:
                return lease.owned()

        assert as_nobody(take) == ["ok", True]
        os.chmod(lock, 0o600)
        kind, message = as_nobody(take)
        assert kind == "OutputError" and message.startswith(f"{lock}: cannot be opened (")
        assert "make it readable and writable by every user who runs a driver" in message


@needs_root
def test_a_lease_this_user_cannot_read_is_an_output_error():
    """A driver with umask 077 writes its lease 0600; another user's --from check reads it."""
    with open_folder() as folder, umask(0o077), Lease(pafs.LocalFileSystem(), folder):
        kind, message = as_nobody(lambda: Lease(pafs.LocalFileSystem(), folder).holder())
        assert kind == "OutputError"
        assert message.startswith(f"{folder}/{LEASE_FILE}: cannot be read (")


def test_a_folder_where_the_lease_should_be_is_named_not_a_traceback(tmp_path):
    (tmp_path / LEASE_FILE).mkdir()
    for check in (Lease(pafs.LocalFileSystem(), str(tmp_path)).holder,
                  Lease(pafs.LocalFileSystem(), str(tmp_path)).acquire):
        with pytest.raises(OutputError, match=f"{LEASE_FILE}: cannot be read .*a folder standing "
                                              "where a file should"):
            check()


def test_an_object_store_read_that_fails_once_is_tried_again(where):
    """A 500 or a stream dropped while another driver deletes the key is not the end of a take
    or of a heartbeat."""
    fs, root = where
    lease = Lease(fs, root)
    lease.acquire()
    try:
        real, calls = lease._read_once, []

        def flaky():
            calls.append(1)
            if len(calls) == 1:
                raise OSError("AWS Error INTERNAL_FAILURE during GetObject operation")
            return real()

        lease._read_once = flaky
        if lease.local:  # a local disk does not fail this way: its error is the file's
            with pytest.raises(OutputError, match="cannot be read"):
                lease.read()
        else:
            assert lease.read() == lease.record and len(calls) == 2
    finally:
        lease._read_once = real
        lease.release()
