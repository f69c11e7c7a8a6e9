"""The job's rule for the sandbox: every node confined, or the user's explicit opt-out."""
from __future__ import annotations

from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape

from iccgen.config import JobConfig
from iccgen.errors import ConfinementMissing

OPT_OUT = "[sandbox] unconfined = true (flag: --unconfined-sandbox)"


class NodeReport(Protocol):
    node: str
    confined: bool
    detail: str

    def to_dict(self) -> dict: ...


def require(job: JobConfig, nodes: list[NodeReport]) -> dict[str, Any]:
    """What `_job.json` records of the nodes; ConfinementMissing where one lacks a layer.

    Nothing has been written when this refuses, so the same command, once the node is fixed
    (or with the opt-out), starts the job as if it had never been tried.
    """
    bare = [n for n in nodes if not n.confined]
    if bare and not job.sandbox.unconfined:
        first = bare[0]
        others = f" (and {len(bare) - 1} more node(s))" if len(bare) > 1 else ""
        raise ConfinementMissing(
            f"the sandbox cannot confine programs on node {first.node}{others}: {first.detail}. "
            f"Fix the node and run the same command again; or, for trusted programs only, opt "
            f"out with {OPT_OUT}")
    return {"unconfined_allowed": job.sandbox.unconfined,
            "nodes": [n.to_dict() for n in nodes]}


def show(nodes: list[NodeReport], console: Console) -> None:
    """Once per run, after the output was accepted: what each node provides."""
    bare = [n for n in nodes if not n.confined]
    for n in nodes:
        state = "[green]confined[/green]" if n.confined else "[red]NOT confined[/red]"
        console.print(f"sandbox on {escape(n.node)}: {state}", highlight=False)
    if bare:
        console.print(f"[bold yellow]warning[/bold yellow]: {len(bare)} node(s) run programs "
                      f"UNCONFINED, as {OPT_OUT} accepts; _job.json and every row's meta.sandbox "
                      "record it", highlight=False)
