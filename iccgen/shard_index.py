"""Rows per committed shard from one listing: a resumed driver need not open every footer.

The shard's final name stays the one commit marker: which units are done comes from the listing
alone. Their row counts come from `OUT/_work/_index/<pipeline>.parquet` (out of reach of the
readers' `OUT/*/*.parquet`), a cache keyed by each shard's
size and modification time as listed. A shard the cache does not know (new since, or rewritten)
has its footer read, those in parallel, and the cache is rewritten whole. A lost or torn cache
costs time, never a row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from iccgen.journal_store import WORK_DIR
from iccgen.store import ShardStore

INDEX_DIR = "_index"  # under WORK_DIR, whose pipelines never start with "_"
_READERS = 16  # footers read at once: object stores answer each in a round trip


def committed_rows(store: ShardStore, pipeline: str) -> dict[int, int]:
    """{unit: rows} of every committed shard of `pipeline`."""
    listed = {unit: _key(info) for unit, info in store.shard_infos(pipeline).items()}
    cached = _read(store, pipeline)
    rows = {u: cached[u][1] for u, key in listed.items() if u in cached and cached[u][0] == key}
    missing = [u for u in listed if u not in rows]
    if missing:
        with ThreadPoolExecutor(_READERS) as pool:
            rows.update(zip(missing, pool.map(lambda u: store.num_rows(pipeline, u), missing)))
    if missing or len(cached) != len(rows):
        _write(store, pipeline, listed, rows)
    return rows


def _key(info: pafs.FileInfo) -> tuple[int, int]:
    return info.size, info.mtime_ns or 0


def _path(store: ShardStore, pipeline: str) -> str:
    return store.path(WORK_DIR, INDEX_DIR, f"{pipeline}.parquet")


def _read(store: ShardStore, pipeline: str) -> dict[int, tuple[tuple[int, int], int]]:
    try:
        table = pq.ParquetFile(store.fs.open_input_file(_path(store, pipeline))).read()
    except (pa.ArrowInvalid, OSError):
        return {}  # none yet, or torn: rebuilt from the footers
    c = table.to_pydict()
    return {u: ((s, m), r) for u, s, m, r in zip(c["unit"], c["size"], c["mtime_ns"], c["rows"])}


def _write(store: ShardStore, pipeline: str, listed: dict[int, tuple[int, int]],
           rows: dict[int, int]) -> None:
    units = sorted(rows)
    table = pa.table({
        "unit": pa.array(units, pa.int64()),
        "size": pa.array([listed[u][0] for u in units], pa.int64()),
        "mtime_ns": pa.array([listed[u][1] for u in units], pa.int64()),
        "rows": pa.array([rows[u] for u in units], pa.int64()),
    })
    store.write_parquet(_path(store, pipeline), table, {})
