"""OUT on a cluster: every node must see the folder the driver sees (ray.cluster_utils, 3 nodes).

Nodes on one machine share its disk, but not the driver's working directory: the test moves the
driver to another folder after the nodes started, so a relative path names a different folder
on the nodes than on the driver, as it does on a real cluster.
"""

import os
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

import iccgen
from iccgen.config import load_config
from iccgen.errors import OutputNotShared
from iccgen.runner import project_runtime_env, require_shared_output, run_job
from iccgen.store import ShardStore
from workers.node_check import PROBE_DIR, check_output

pytestmark = pytest.mark.slow  # a 3-node cluster starts in 20-50 s on a shared machine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if ray.is_initialized():
        ray.shutdown()  # another module's local Ray; its fixture's later runs start their own
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # the nodes are this machine's processes
    nodes_cwd = tmp_path_factory.mktemp("nodes_cwd")
    here = os.getcwd()
    os.chdir(nodes_cwd)  # where the nodes' workers resolve relative paths
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        c.add_node(num_cpus=1, object_store_memory=128 * 1024**2)
    os.chdir(here)
    yield c, nodes_cwd
    ray.shutdown()
    c.shutdown()
    if saved is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = saved


def test_runtime_env_ships_our_packages():
    env = project_runtime_env()
    names = [Path(d).name for d in env["py_modules"]]
    assert names == ["iccgen", "pipelines", "workers", "sandbox"]
    assert all((Path(d) / "__init__.py").is_file() for d in env["py_modules"])
    assert Path(env["py_modules"][0]) == Path(iccgen.__file__).parent
    assert "__pycache__" in env["excludes"]


def test_relative_out_lands_where_the_driver_says(cluster, tmp_path, monkeypatch):
    c, nodes_cwd = cluster
    monkeypatch.chdir(tmp_path)
    job = load_config(pipelines=["solid"], n=4, shard_size=2, workers=2, out="rel/out", address=c.address)
    results = run_job(job)  # joins the cluster through --address, shipping the project
    assert results[0].rows == 4
    assert ShardStore(str(tmp_path / "rel" / "out")).committed_units("solid") == {0, 1}
    assert not (nodes_cwd / "rel").exists()
    assert not (tmp_path / "rel" / "out" / PROBE_DIR).exists()
    shipped = ray.get(ray.remote(num_cpus=0)(lambda: iccgen.__file__).remote())
    assert "runtime_resources" in shipped  # the nodes ran the shipped copy


def test_out_the_nodes_see_elsewhere_is_refused_naming_them(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_output(str(tmp_path / "shared")) == []
    failed = check_output("node/local")  # unresolved: each node reads its own folder
    assert len(failed) == 2 and all("cannot read the driver's probe file" in f for f in failed)
    with pytest.raises(OutputNotShared) as err:
        require_shared_output(ShardStore("node/local"))
    message = str(err.value)
    assert message.count("cannot read the driver's probe") == 2
    assert "pass a URI (s3://bucket/prefix" in message and "every node mounts" in message
    assert not (tmp_path / "node" / "local" / PROBE_DIR).exists()
