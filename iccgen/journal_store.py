"""Where journals live: `OUT/_work/<pipeline>/part-<unit>/seg-<n>.parquet`, on the job's store.

Each segment is written the way a shard is (atomically, through the same store), so a journal
works wherever the shards do, object stores included. The `_` folder keeps journals out of
every reader's glob of the shards.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from iccgen.errors import ShardError
from iccgen.store import STATS_KEY, ShardStore, shard_name, unreadable

WORK_DIR = "_work"
_SEGMENT = re.compile(r"^seg-(\d{6})\.parquet$")
_UNIT = re.compile(r"^part-(\d{5,})$")


class JournalStore:
    """The journals of one job's units in progress, kept beside its shards."""

    def __init__(self, store: ShardStore):
        self.store = store

    def dir(self, pipeline: str, unit: int) -> str:
        return self.store.path(WORK_DIR, pipeline, shard_name(unit).removesuffix(".parquet"))

    def segments(self, pipeline: str, unit: int) -> list[str]:
        infos = self.store.list_dir(self.dir(pipeline, unit))
        return sorted(i.path for i in infos if _SEGMENT.match(i.base_name))

    def write_segment(self, pipeline: str, unit: int, table: pa.Table, record: dict[str, Any]) -> str:
        existing = self.segments(pipeline, unit)
        seq = int(_SEGMENT.match(existing[-1].rsplit("/", 1)[1]).group(1)) + 1 if existing else 0
        path = f"{self.dir(pipeline, unit)}/seg-{seq:06d}.parquet"
        self.store.write_parquet(path, table, record)
        return path

    def read_segment(self, path: str) -> tuple[pa.Table, dict[str, Any]]:
        """Raises ShardError for a torn or corrupt segment: the caller drops it. One this user
        may not read is an OutputError: dropping it would redo its items over a mode to fix."""
        try:
            table = pq.ParquetFile(self.store.fs.open_input_file(path)).read()
        except PermissionError as e:
            raise unreadable(path, e) from None
        except (pa.ArrowInvalid, OSError) as e:
            raise ShardError(f"{path}: torn journal segment ({e})") from None
        return table, json.loads((table.schema.metadata or {}).get(STATS_KEY, b"{}"))

    def units(self, pipeline: str) -> set[int]:
        names = [i.base_name for i in self.store.list_dir(self.store.path(WORK_DIR, pipeline))]
        return {int(m.group(1)) for m in map(_UNIT.match, names) if m}

    def remove(self, pipeline: str, unit: int) -> None:
        path = self.dir(pipeline, unit)
        if self.store.fs.get_file_info(path).type == pafs.FileType.Directory:
            self.store.fs.delete_dir(path)

    def sweep(self) -> int:
        """Journals of committed units are leftovers of a kill between commit and cleanup."""
        swept = 0
        for pipeline in self._pipelines():
            for unit in self.units(pipeline) & self.store.committed_units(pipeline):
                self.remove(pipeline, unit)
                swept += 1
        return swept

    def _pipelines(self) -> list[str]:
        infos = self.store.list_dir(self.store.path(WORK_DIR))
        return [i.base_name for i in infos
                if i.type == pafs.FileType.Directory and not i.base_name.startswith("_")]
