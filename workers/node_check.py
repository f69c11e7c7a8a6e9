"""Which sandbox layers every node of the cluster provides, checked on each node itself."""
from __future__ import annotations

import socket
from dataclasses import asdict, dataclass

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


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


_check_node = ray.remote(num_cpus=0, max_retries=1)(_check_here)
_checked: dict[str, NodeLayers] = {}  # per driver process: a node's layers do not change under it


def check_nodes() -> list[NodeLayers]:
    """One probe per alive node that can run workers; nodes seen before are not probed again."""
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) > 0]
    todo = [n for n in nodes if n not in _checked]
    refs = [_check_node.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote()
            for n in todo]
    for node_id, report in zip(todo, ray.get(refs)):
        _checked[node_id] = NodeLayers(**report)
    return [_checked[n] for n in nodes]
