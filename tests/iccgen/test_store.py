import os

import pandas as pd
import pyarrow.parquet as pq
import pytest

from rich.console import Console

from iccgen.config import load_config
from iccgen.errors import NonAtomicOutput, OutputError, ShardError
from iccgen.runner import run_job
from iccgen.schema import Triplet, to_table
from iccgen.store import ShardStore


def rows(n, pipeline="solid", unit=0):
    return [
        Triplet(id=f"{pipeline}-{unit}-{i}", pipeline=pipeline, png=b"\x89PNG fake", caption=f"c{i}",
                code="print(1)", phash=2**63 + i, width=10, height=20, unit=unit, item=i,
                params={"a": i}, meta={"m": [1, 2]})
        for i in range(n)
    ]


def test_commit_list_and_read_back(tmp_path):
    store = ShardStore(str(tmp_path / "out"))
    path = store.commit("solid", 3, to_table(rows(4, unit=3)), {"kept": 4, "rejects": {"dedup": 1}})
    assert path.endswith("solid/part-00003.parquet")
    assert store.committed_units("solid") == {3}
    assert store.stats("solid", 3)["rejects"] == {"dedup": 1}
    table = pq.read_table(path)
    assert table.column("phash").to_pylist()[0] == 2**63
    assert b"huggingface" in table.schema.metadata
    df = pd.read_parquet(path)
    assert list(df["caption"]) == ["c0", "c1", "c2", "c3"]
    assert df["image"][0]["bytes"] == b"\x89PNG fake"


def test_crash_before_rename_leaves_no_shard(tmp_path, monkeypatch):
    store = ShardStore(str(tmp_path / "out"))

    def crash(src, dst):
        raise KeyboardInterrupt  # the process dies between write and rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.commit("solid", 0, to_table(rows(2)), {})
    monkeypatch.undo()
    assert store.committed_units("solid") == set()
    assert len(store.temporaries()) == 1
    assert store.sweep_temporaries() == 1
    assert store.temporaries() == [] and os.listdir(tmp_path / "out" / "solid") == []


def test_truncated_shard_is_a_clear_error(tmp_path):
    store = ShardStore(str(tmp_path / "out"))
    path = store.commit("solid", 0, to_table(rows(3)), {})
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(ShardError, match="part-00000.parquet.*delete it"):
        store.read("solid")


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="not writable"):
        ShardStore(str(blocker / "out")).check_writable()


def test_job_file_roundtrip(tmp_path):
    store = ShardStore(str(tmp_path))
    assert store.read_job() is None
    store.write_job({"fingerprint": "abc"})
    assert store.read_job() == {"fingerprint": "abc"}
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_filesystem_without_atomic_visibility_is_refused_unless_opted_out():
    store = ShardStore("mock:///out")  # pyarrow's in-memory filesystem: neither local nor S3/GCS
    assert store.commit_mode == "nonatomic"
    with pytest.raises(NonAtomicOutput, match=r"allow_nonatomic = true.*\[output\]"):
        store.require_atomic(allow_nonatomic=False)
    store.require_atomic(allow_nonatomic=True)
    store.commit("solid", 0, to_table(rows(2)), {"kept": 2})
    assert store.committed_units("solid") == {0} and store.temporaries() == []


def test_job_on_nonatomic_output_refused_before_anything_runs():
    job = load_config(out="mock:///out")
    with pytest.raises(NonAtomicOutput):
        run_job(job, Console(quiet=True))
    assert "output" not in job.output_fields()  # an opt-out changes no row: not in the fingerprint
    assert load_config(out="mock:///out", output={"allow_nonatomic": True}).output.allow_nonatomic
