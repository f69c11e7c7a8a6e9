"""One driver per OUT: the lease on a local disk and through a generic pyarrow filesystem."""

import json
import os
import socket
import subprocess
import sys
import time

import pyarrow.fs as pafs
import pytest

from iccgen.errors import LeaseHeld
from iccgen.lease import LEASE_FILE, Lease
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
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    plant(fs, root, host=socket.gethostname(), pid=gone.pid)
    with Lease(fs, root) as lease:
        assert lease.owned() and f"pid {gone.pid}" in lease.note
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        plant(fs, root, host=socket.gethostname(), pid=alive.pid)
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
