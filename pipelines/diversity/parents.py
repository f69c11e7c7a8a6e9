"""Where Image Diversity's parent programs come from: this job, another job, or .py files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iccgen import location
from iccgen.errors import ConfigError, InputError
from iccgen.store import ShardStore


@dataclass(frozen=True)
class Parent:
    id: str
    code: str
    source_id: str | None = None
    phash: int | None = None
    caption: str | None = None
    params_json: str | None = None  # θ of a solid-geometry parent, as stored (a Parent is hashable)

    @property
    def params(self) -> dict[str, Any] | None:
        params = json.loads(self.params_json) if self.params_json else None
        return params if isinstance(params, dict) else None


def _from_store(store: ShardStore, pipelines: list[str]) -> list[Parent]:
    parents = []
    for name in pipelines:
        table = store.read(name, columns=["id", "code", "source_id", "phash", "caption", "params"])
        if table is not None:
            for row in table.to_pylist():
                parents.append(Parent(row["id"], row["code"], row["source_id"] or row["id"], row["phash"],
                                   row["caption"], row["params"]))
    return parents


def _from_folder(folder: Path) -> list[Parent]:
    files = sorted(folder.glob("*.py"))
    if not files:
        raise InputError(f"{folder}: no .py programs and no iccgen job (_job.json) here")
    parents = []
    for f in files:
        try:
            parents.append(Parent(f"py:{f.stem}", f.read_text()))
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{f}: cannot read the program ({e})") from None
    return parents


def check_source(source: str | None, pipelines: list[str]) -> None:
    """Fail before any work if the parents cannot exist."""
    if source is None:
        if pipelines.index("diversity") == 0:
            raise ConfigError(
                "diversity needs parent programs: list another pipeline before it "
                "(pipelines = ['solid', 'diversity']) or give --from OUT_OR_FOLDER"
            )
        return
    location.check_scheme(source, lambda why: InputError(f"diversity.from: cannot open {source}: {why}"))
    if not location.is_uri(source) and not Path(source).is_dir():
        raise InputError(f"diversity.from: {source} is not a folder (an iccgen output or .py files)")


def load_parents(source: str | None, pipelines: list[str], store: ShardStore) -> list[Parent]:
    """Parents sorted by id, so the plan does not depend on listing order."""
    if source is None:
        earlier = pipelines[: pipelines.index("diversity")]
        parents = _from_store(store, earlier)
    else:
        other = ShardStore(source)
        if other.read_job() is not None:
            parents = _from_store(other, other.pipelines())
        else:
            parents = _from_folder(Path(source))
    return sorted(parents, key=lambda p: p.id)
