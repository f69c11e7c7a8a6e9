"""One driver per OUT: the lease on a local disk and through a generic pyarrow filesystem."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from iccgen.errors import LeaseHeld
from iccgen.lease import LEASE_FILE, LOCK_FILE, Lease
from iccgen.store import ShardStore


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
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        plant(fs, root, **here(), pid=alive.pid)
        with pytest.raises(LeaseHeld, match=f"pid {alive.pid}"):
            Lease(fs, root).acquire()
    finally:
        alive.kill()
        alive.wait()


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
    leftover = out / f"{LEASE_FILE}.{'0' * 32}.tmp"
    leftover.write_text('{"owner": "gone"')
    (out / LOCK_FILE).touch()
    # Meanwhile nothing takes them for shards, pipelines or a job's temporaries
    assert store.pipelines() == ["solid"] and list(store.shard_infos("solid")) == [0]
    assert store.temporaries() == []
    assert [p.relative_to(out).as_posix() for p in out.glob("*/*.parquet")] == [
        "solid/part-00000.parquet"]
    with Lease(store.fs, store.root, stale_after_s=0.2) as lease:
        assert not leftover.exists()
        time.sleep(0.3)  # a few heartbeats: each renames its own temporary away
        assert lease.owned() and not list(out.glob(f"{LEASE_FILE}.*"))
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "solid"]
