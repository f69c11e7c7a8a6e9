"""A probe that does not come back from a node (the node died, the probe crashed) stops the job
with a message naming the node and what to do, not Ray's exception."""

import os
import time

import pytest
import ray

from iccgen.cli import main
from iccgen.config import load_config
from iccgen.errors import NodeCheckFailed
from iccgen.lease import LOCK_FILE
from iccgen.runner import connect, require_shared_output
from iccgen.store import ShardStore
from workers import node_check


@pytest.fixture
def local_ray(ray_session):
    """Ray up as a driver starts it, even where an earlier module shut the session's down (to
    see a refusal come before Ray)."""
    connect(load_config())


def a_node() -> tuple[str, str]:
    node = next(n for n in ray.nodes() if n["Alive"])
    return node["NodeID"], node["NodeManagerAddress"]


def crashing(how: str):
    """The real probe, except that on one node it raises or its worker process dies."""
    doomed, _ = a_node()
    probe = node_check._probe_output

    def on_node(uri: str, token: str) -> dict:
        if ray.get_runtime_context().get_node_id() == doomed:
            if how == "raise":
                raise RuntimeError("disk gone\nsecond line")
            if how == "hang":  # a probe stuck on a hung mount (its worker idles on, with no CPU)
                time.sleep(30)
            os._exit(1)  # what a node dying under the probe looks like to the driver
        return probe(uri, token)

    return ray.remote(num_cpus=0, max_retries=0)(on_node)


@pytest.mark.parametrize("how, cause", [("raise", "RuntimeError: disk gone)"),
                                        ("exit", "WorkerCrashedError: "),
                                        ("hang", "GetTimeoutError: ")])
def test_a_probe_that_fails_on_a_node_names_it(local_ray, tmp_path, monkeypatch, how, cause):
    monkeypatch.setattr(node_check, "_probe_node", crashing(how))
    monkeypatch.setattr(node_check, "PROBE_TIMEOUT_S", 3.0)
    node_id, address = a_node()
    with pytest.raises(NodeCheckFailed) as err:
        require_shared_output(ShardStore(str(tmp_path)))
    message = str(err.value)
    assert message.startswith(f"the OUT probe on node {address} ({node_id[:12]}) did not finish (")
    assert cause in message and "second line" not in message
    assert "run the same command again" in message and "`ray status`" in message
    assert os.listdir(tmp_path) == []  # the probe's files are cleaned up


def test_through_the_cli_a_probe_failure_exits_1_without_a_traceback(local_ray, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(node_check, "_probe_node", crashing("raise"))
    out = tmp_path / "out"
    assert main(["run", "--pipeline", "solid", "--n", "1", "--out", str(out)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "error: the OUT probe on node" in err and "Traceback" not in err
    # nothing was started: no job record, the lease given back (its takeover lock stays)
    assert os.listdir(out) == [LOCK_FILE]
