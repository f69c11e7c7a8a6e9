"""Rows and stats per committed shard from one listing: a resumed driver need not open every footer.

The shard's final name stays the one commit marker: which units are done comes from the listing
alone. Their row counts, shortfall and rejects (what a run's summary adds up) come from
`OUT/_work/_index/<pipeline>.parquet` (out of reach of the readers' `OUT/*/*.parquet`), a cache
keyed by each shard's size and modification time as listed. A shard the cache does not know (new
since, or rewritten) has its footer read, those in parallel, and the cache is rewritten whole. A
lost, torn or older cache costs time, never a row.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from iccgen.journal_store import WORK_DIR
from iccgen.store import ShardStore

INDEX_DIR = "_index"  # under WORK_DIR, whose pipelines never start with "_"
_READERS = 16  # footers read at once: object stores answer each in a round trip
# The stats a summary adds up; the rest (reject samples, usage) stays in the footer.
SUMMED = ("shortfall", "rejects")

Totals = tuple[int, dict[str, Any]]  # a unit's rows, and its stats' SUMMED keys


def committed_totals(store: ShardStore, pipeline: str) -> dict[int, Totals]:
    """{unit: (rows, stats)} of every committed shard of `pipeline`."""
    listed = {unit: _key(info) for unit, info in store.shard_infos(pipeline).items()}
    cached = _read(store, pipeline)
    found = {u: cached[u][1] for u, key in listed.items() if u in cached and cached[u][0] == key}
    missing = [u for u in listed if u not in found]
    if missing:
        with ThreadPoolExecutor(_READERS) as pool:
            found.update(zip(missing, pool.map(lambda u: _summed(*store.footer(pipeline, u)), missing)))
    if missing or len(cached) != len(found):
        _write(store, pipeline, listed, found)
    return found


def _summed(rows: int, stats: dict[str, Any]) -> Totals:
    return rows, {k: stats[k] for k in SUMMED if k in stats}


def _key(info: pafs.FileInfo) -> tuple[int, int]:
    return info.size, info.mtime_ns or 0


def _path(store: ShardStore, pipeline: str) -> str:
    return store.path(WORK_DIR, INDEX_DIR, f"{pipeline}.parquet")


def _read(store: ShardStore, pipeline: str) -> dict[int, tuple[tuple[int, int], Totals]]:
    try:
        table = pq.ParquetFile(store.fs.open_input_file(_path(store, pipeline))).read()
        c = table.to_pydict()
        return {u: ((s, m), (r, json.loads(st)))
                for u, s, m, r, st in zip(c["unit"], c["size"], c["mtime_ns"], c["rows"], c["stats"])}
    except (pa.ArrowInvalid, OSError, KeyError):
        return {}  # none yet, torn, or from before it held stats: rebuilt from the footers


def _write(store: ShardStore, pipeline: str, listed: dict[int, tuple[int, int]],
           found: dict[int, Totals]) -> None:
    units = sorted(found)
    table = pa.table({
        "unit": pa.array(units, pa.int64()),
        "size": pa.array([listed[u][0] for u in units], pa.int64()),
        "mtime_ns": pa.array([listed[u][1] for u in units], pa.int64()),
        "rows": pa.array([found[u][0] for u in units], pa.int64()),
        "stats": pa.array([json.dumps(found[u][1], sort_keys=True) for u in units], pa.string()),
    })
    store.write_parquet(_path(store, pipeline), table, {})
