"""`iccgen.open(OUT)`: the committed shards of a job as one `pyarrow.dataset.Dataset`.

Only final shard names are listed, so temporaries, journals (`_work/`) and sampled rejects
(`_rejects/`) never reach a reader, whatever a job in progress is writing.
"""

from __future__ import annotations

import pyarrow.dataset as ds

from iccgen.report import no_rows, open_job, select_pipelines
from iccgen.schema import SCHEMA_WITH_HF


def open_dataset(out: str, pipelines: list[str] | None = None) -> ds.Dataset:
    """All committed rows of `out` (optionally only some pipelines); filter and project with
    pyarrow (`.to_table(columns=..., filter=...)`), or hand it to pandas, polars or duckdb."""
    store, job = open_job(out)
    names = select_pipelines(out, store, job, pipelines)
    paths = [store.shard_path(p, u) for p in names for u in sorted(store.committed_units(p))]
    if not paths:
        raise no_rows(out, store, job, names)
    return ds.dataset(paths, schema=SCHEMA_WITH_HF, format="parquet", filesystem=store.fs)
