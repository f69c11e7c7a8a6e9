"""The plan's inputs, pinned in `_job.json`: a rerun over changed inputs is refused.

A plan is made from the job config and from what its inputs held at the time: the seed files of
reproduce, the parent job (or folder of programs) of diversity `--from`. If those change between
runs the same unit numbers would name other work (some seeds done twice, some never), so each run
compares what the inputs hold now with what they held when the job started.
"""

from __future__ import annotations

from typing import Any

import pyarrow.fs as pafs

from iccgen import location
from iccgen.config import JobConfig
from iccgen.errors import InputError
from iccgen.lease import Lease
from iccgen.store import ShardStore

SHOWN = 3  # names listed per kind of change; the rest are counted


def listing(path: str, suffix: str = "", recursive: bool = True) -> dict[str, list[int]]:
    """Every visible file under `path` (or `path` itself): relative name -> [size, mtime_ns]."""
    fs, root = location.resolve(path, lambda why: InputError(f"{path}: cannot open ({why})"))
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.File:
        return {info.base_name: [info.size, info.mtime_ns or 0]}
    files = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True, recursive=recursive))
    base = root.rstrip("/") + "/"
    found = {}
    for f in files:
        rel = f.path.removeprefix(base)
        if f.type != pafs.FileType.File or not rel.endswith(suffix):
            continue
        if not any(part.startswith(".") for part in rel.split("/")):
            found[rel] = [f.size, f.mtime_ns or 0]
    return found


def _source(source: str) -> dict[str, Any]:
    parent = ShardStore(source)
    record = parent.read_job()
    if record is None:  # a folder of .py programs, read as the parents module does
        return {"files": listing(source, ".py", recursive=False)}
    running = Lease(parent.fs, parent.root).holder()
    if running is not None:  # its shards are still coming: a plan over them would shift
        raise InputError(
            f"diversity.from: {source} is a job still running ({running.describe()}); wait for it "
            "to finish, then run this job"
        )
    units = {name: sorted(parent.committed_units(name)) for name in parent.pipelines()}
    return {"job": record.get("fingerprint"), "units": units}


def pin(job: JobConfig) -> dict[str, Any]:
    """What the plan of each pipeline is made from, beyond the config."""
    inputs: dict[str, Any] = {}
    if "reproduce" in job.pipelines and job.reproduce.seeds:
        inputs["reproduce.seeds"] = {"files": listing(job.reproduce.seeds)}
    if "diversity" in job.pipelines and job.diversity.source:
        inputs["diversity.from"] = _source(job.diversity.source)
    return inputs


def _names(kind: str, names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    return f"{len(names)} {kind} ({shown})"


def _files_diff(old: dict[str, list[int]], new: dict[str, list[int]], what: str) -> list[str]:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    parts = [_names(kind, names) for kind, names in
             (("added", added), ("removed", removed), ("changed", changed)) if names]
    return [f"{what} {', '.join(parts)}"] if parts else []


def _units_diff(old: dict[str, list[int]], new: dict[str, list[int]]) -> list[str]:
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = set(old.get(name, [])), set(new.get(name, []))
        parts = [_names(kind, [f"part-{u:05d}" for u in sorted(units)])
                 for kind, units in (("added", b - a), ("removed", a - b)) if units]
        if parts:
            out.append(f"the source job's {name} shards: {', '.join(parts)}")
    return out


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed, one phrase per input, naming the files or shards."""
    changes = []
    for key in sorted(set(old) & set(new)):  # an input present in only one is a config change
        a, b = old[key], new[key]
        if a.get("job") != b.get("job"):
            changes.append(f"{key}: the source job changed (fingerprint {a.get('job')} -> {b.get('job')})")
            continue
        found = _files_diff(a.get("files", {}), b.get("files", {}), "files") + \
            _units_diff(a.get("units", {}), b.get("units", {}))
        changes += [f"{key}: {phrase}" for phrase in found]
    return changes
