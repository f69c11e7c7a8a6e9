"""`iccgen run --address` on a 3-node `ray.cluster_utils.Cluster` on this machine, losing nodes.

The head runs the driver and holds no CPU (as on a real cluster); two worker nodes hold the unit
workers and the dedup index. A node is removed while the job runs, and the job must still end
with every planned row exactly once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import pytest
from jobs import ICCGEN, run_cli

from iccgen import quarantine
from iccgen.hashing import hamming
from iccgen.store import ShardStore
from workers.unit_worker import MAX_CANDIDATE_ERRORS

pytestmark = pytest.mark.slow  # a cluster start and a job on it: about a minute each here

UNITS = 8
WORKER_NODE = dict(num_cpus=2, object_store_memory=100 * 1024**2)


def patiently(start, tries: int = 3):
    """A node start under heavy load can miss Ray's fixed 30 s registration window."""
    for left in range(tries - 1, -1, -1):
        try:
            return start()
        except Exception:  # noqa: BLE001 - Ray raises a bare Exception for this
            if not left:
                raise


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    # No CPU and little memory on the head: workers and the dedup index go to worker nodes.
    c = patiently(lambda: Cluster(initialize_head=True, head_node_args=dict(
        num_cpus=0, memory=64 * 1024**2, object_store_memory=100 * 1024**2)))
    yield c
    c.shutdown()


@pytest.fixture
def nodes(cluster):
    """Two worker nodes, whatever the test before removed."""
    while len(cluster.worker_nodes) < 2:
        patiently(lambda: cluster.add_node(**WORKER_NODE))
    cluster.wait_for_nodes()
    return cluster


def start(cluster, out: Path, log: Path) -> subprocess.Popen:
    args = ["--pipeline", "solid", "--n", str(2 * UNITS), "--shard-size", "2", "--seed", "7",
            "--workers", "2", "--out", str(out), "--address", cluster.address]
    return subprocess.Popen([*ICCGEN, *args], stdout=log.open("w"), stderr=subprocess.STDOUT)


def index_node(cluster) -> str:
    """The node id of the live dedup index actor."""
    deadline = time.time() + 60
    while time.time() < deadline:
        for actor in cluster.global_state.actor_table(None, None, None).values():
            if actor["ActorClassName"] == "HammingIndexActor" and actor["State"] == "ALIVE":
                return actor["Address"]["NodeID"]
        time.sleep(0.2)
    raise AssertionError("no live dedup index")


def remove_when_committed(cluster, proc, store: ShardStore, pick) -> None:
    deadline = time.time() + 240
    while len(store.committed_units("solid")) < 2:
        assert proc.poll() is None, "the job ended before a node could be removed"
        assert time.time() < deadline, "the job made no progress"
        time.sleep(0.1)
    held = index_node(cluster)
    victim = next(n for n in cluster.worker_nodes if pick(n.node_id == held))
    cluster.remove_node(victim, allow_graceful=False)


def exactly_once(out: Path, threshold: int = 4) -> None:
    store = ShardStore(str(out))
    assert store.committed_units("solid") == set(range(UNITS))
    table = store.read("solid", columns=["id", "phash"])
    ids = table.column("id").to_pylist()
    kept = sum(store.stats("solid", u)["kept"] for u in range(UNITS))
    assert len(ids) == len(set(ids)) == kept >= 2 * UNITS - 2
    hashes = [int(h) for h in table.column("phash").to_pylist()]
    assert [p for p in combinations(hashes, 2) if hamming(*p) <= threshold] == []
    assert store.temporaries() == []


@pytest.mark.parametrize("lose", ["worker_node", "index_node"])
def test_a_node_lost_half_way_leaves_every_row_exactly_once(nodes, tmp_path, lose):
    out, log = tmp_path / "out", tmp_path / "log"
    proc = start(nodes, out, log)
    try:
        remove_when_committed(nodes, proc, ShardStore(str(out)),
                              (lambda holds: not holds) if lose == "worker_node" else bool)
        proc.wait(timeout=300)
    finally:
        proc.kill()
    text = log.read_text()
    assert proc.returncode == 0, text
    exactly_once(out)
    if lose == "index_node":
        assert "dedup index lost" in text  # rebuilt, and its units went again without a try counted
    else:
        assert "its worker died" in text  # the units in flight there were tried again


PROGRAMS = Path(__file__).parents[1] / "fixtures" / "programs"
OVERSIZED = "NOTES = " + repr("x" * 1_000_000) + "\n" + (PROGRAMS / "bar_rainfall.py").read_text()


def test_poison_candidates_are_rejects_and_a_unit_that_always_fails_is_quarantined(nodes, tmp_path):
    """Parents alternate good, over the code limit. Unit 1 (one of each) keeps its good row and
    rejects the other's candidates; unit 0 (two of each) reaches the unit's error cap on every
    try, is quarantined, and is tried once more by the next run."""
    parents = tmp_path / "parents"
    parents.mkdir()
    (parents / "a_good.py").write_text((PROGRAMS / "projectile_motion.py").read_text())
    (parents / "b_oversized.py").write_text(OVERSIZED)
    attempts = MAX_CANDIDATE_ERRORS // 2
    config = tmp_path / "job.toml"
    config.write_text(f'pipelines = ["diversity"]\nn = 6\nshard_size = 4\nseed = 2\nworkers = 2\n'
                      f'max_attempts = {attempts}\n[diversity]\nfrom = "{parents}"\nk = 3\n')
    out = tmp_path / "out"
    args = [str(config), "--out", str(out), "--address", nodes.address]
    first = run_cli(args)
    assert first.returncode == 1, first.stderr
    assert "diversity/00000" in first.stderr and "quarantined" in first.stderr
    store = ShardStore(str(out))
    assert store.committed_units("diversity") == {1}
    assert store.stats("diversity", 1)["rejects"] == {"error:CodeTooLarge": attempts}
    assert store.stats("diversity", 1)["kept"] == 1
    assert quarantine.held(store)["diversity/00000"]["tries"] == quarantine.TRIES
    shown = subprocess.run([sys.executable, "-m", "iccgen.cli", "status", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert "quarantined diversity/00000 after 3 tries" in shown.stdout + shown.stderr
    again = run_cli(args)
    assert again.returncode == 1 and "retrying" not in again.stderr
    assert quarantine.held(store)["diversity/00000"]["tries"] == quarantine.TRIES + 1
