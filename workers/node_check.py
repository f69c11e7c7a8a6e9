"""Checked on each node itself: which sandbox layers it provides, and that it sees OUT."""
from __future__ import annotations

import socket
import time
import uuid
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from iccgen.errors import NodeCheckFailed, OutputError
from iccgen.store import ShardStore


@dataclass(frozen=True)
class NodeLayers:
    node: str  # host name and Ray node id, as a user finds the machine
    confined: bool  # a required (jailed, unprivileged, seccomp) pool starts there
    detail: str  # what is missing and what to do, when not confined
    layers: dict[str, bool]

    def to_dict(self) -> dict:
        return asdict(self)


def _check_here() -> dict:
    from sandbox import doctor

    layers = doctor()
    return {"node": f"{socket.gethostname()} ({ray.get_runtime_context().get_node_id()[:12]})",
            "confined": layers[0].active, "detail": "" if layers[0].active else layers[0].detail,
            "layers": {layer.name: layer.active for layer in layers}}


def _worker_nodes() -> dict[str, str]:
    """The alive nodes that can run workers: Ray node id -> address."""
    return {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()
            if n["Alive"] and n["Resources"].get("CPU", 0) > 0}


#: how long the probes of all nodes may take: a probe stuck on a hung mount must not hang the
#: start for ever, and a node's first task may wait for its worker and the job's code to arrive
PROBE_TIMEOUT_S = 300.0


def _reports(nodes: dict[str, str], refs: list[ray.ObjectRef], what: str) -> list[dict]:
    """Each node's answer to a probe; one that did not come (its node died, the probe crashed)
    stops the job before any work, naming the node."""
    reports, deadline = [], time.monotonic() + PROBE_TIMEOUT_S
    for (node_id, address), ref in zip(nodes.items(), refs):
        try:
            reports.append(ray.get(ref, timeout=max(0.0, deadline - time.monotonic())))
        except RayError as e:
            cause = e.cause if isinstance(e, RayTaskError) and e.cause else e
            first = (str(cause).strip().splitlines() or [""])[0]
            raise NodeCheckFailed(
                f"the {what} probe on node {address} ({node_id[:12]}) did not finish "
                f"({type(cause).__name__}: {first}); nothing was started: run the same command "
                "again, and if this repeats see `ray status` for that node"
            ) from None
    return reports


_check_node = ray.remote(num_cpus=0, max_retries=1)(_check_here)
_checked: dict[str, NodeLayers] = {}  # per driver process: a node's layers do not change under it


def check_nodes() -> list[NodeLayers]:
    """One probe per alive node that can run workers; nodes seen before are not probed again."""
    nodes = _worker_nodes()
    todo = {n: address for n, address in nodes.items() if n not in _checked}
    refs = [_check_node.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote()
            for n in todo]
    for node_id, report in zip(todo, _reports(todo, refs, "sandbox")):
        _checked[node_id] = NodeLayers(**report)
    return [_checked[n] for n in nodes]


# -- the output every node must see ---------------------------------------------------------
PROBE_DIR = "_probe"


def _probe_output(uri: str, token: str) -> dict:
    """On one node: read the driver's probe, then leave one of our own for the driver to read."""
    node = f"{socket.gethostname()} ({ray.get_runtime_context().get_node_id()[:12]})"
    try:
        store = ShardStore(uri)
        folder = store.path(PROBE_DIR, token)
        with store.fs.open_input_stream(f"{folder}/driver") as f:
            seen = f.read().decode()
        if seen != token:
            return {"node": node, "error": "finds another job's probe there"}
        with store.fs.open_output_stream(f"{folder}/{ray.get_runtime_context().get_node_id()}") as f:
            f.write(node.encode())
    except (OSError, pa.ArrowException, OutputError) as e:
        return {"node": node, "error": f"cannot read the driver's probe file ({type(e).__name__}: {e})"}
    return {"node": node, "error": ""}


_probe_node = ray.remote(num_cpus=0, max_retries=1)(_probe_output)


def check_output(uri: str) -> list[str]:
    """Each alive worker node reads a file the driver wrote in OUT and writes one back; the
    nodes that cannot see the driver's OUT, each as "node: what failed"."""
    store = ShardStore(uri)
    token = uuid.uuid4().hex
    folder = store.path(PROBE_DIR, token)
    store.fs.create_dir(folder, recursive=True)
    with store.fs.open_output_stream(f"{folder}/driver") as f:
        f.write(token.encode())
    try:
        nodes = _worker_nodes()
        refs = [_probe_node.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False))
                .remote(uri, token) for n in nodes]
        failed = []
        for node_id, report in zip(nodes, _reports(nodes, refs, "OUT")):
            if not report["error"] and store.fs.get_file_info(f"{folder}/{node_id}").type != pafs.FileType.File:
                report["error"] = "writes there land where the driver cannot read them"
            if report["error"]:
                failed.append(f"{report['node']}: {report['error']}")
        return failed
    finally:
        store.fs.delete_dir(folder)
        if not store.fs.get_file_info(pafs.FileSelector(store.path(PROBE_DIR))):
            store.fs.delete_dir(store.path(PROBE_DIR))
