import contextlib
import io
import os
import socket

import pandas as pd
import pyarrow.parquet as pq
import pytest

from rich.console import Console
from users import as_nobody, needs_root, open_folder

from iccgen.cli import main
from iccgen.config import load_config
from iccgen.errors import NonAtomicOutput, OutputError, ShardError
from iccgen.runner import run_job
from iccgen.schema import Triplet, to_table
from iccgen.store import ShardStore, require_atomic


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
    with pytest.raises(NonAtomicOutput, match=r"a mock:// filesystem .*allow_nonatomic = true.*\[output\]"):
        require_atomic("mock:///out", allow_nonatomic=False)
    require_atomic("mock:///out", allow_nonatomic=True)
    store.commit("solid", 0, to_table(rows(2)), {"kept": 2})
    assert store.committed_units("solid") == {0} and store.temporaries() == []


def test_an_hdfs_output_is_refused_before_pyarrow_reaches_for_a_jvm(capfd):
    with pytest.raises(NonAtomicOutput, match="^hdfs://namenode:8020/runs/a: a hdfs:// filesystem"):
        run_job(load_config(out="hdfs://namenode:8020/runs/a"), Console(quiet=True))
    assert "jvm" not in capfd.readouterr().err.lower()


def test_job_on_nonatomic_output_refused_before_anything_runs():
    job = load_config(out="mock:///out")
    with pytest.raises(NonAtomicOutput):
        run_job(job, Console(quiet=True))
    assert "output" not in job.output_fields()  # an opt-out changes no row: not in the fingerprint
    assert load_config(out="mock:///out", output={"allow_nonatomic": True}).output.allow_nonatomic


@pytest.mark.parametrize("command", [["status"], ["run", "--n", "1", "--out"]])
def test_an_unreadable_job_record_is_a_clear_error_through_the_cli(tmp_path, capsys, command):
    out = tmp_path / "out"
    (out / "_job.json").mkdir(parents=True)  # unreadable even by root, which ignores a mode 000
    assert main([*command, str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{out}/_job.json: cannot be read (" in err and "make it readable by this user" in err
    assert "Traceback" not in err
    # run took and gave back its lease (the takeover lock stays), and wrote nothing
    assert set(os.listdir(out)) - {"_lease.lock"} == {"_job.json"}


@pytest.mark.parametrize("text", ["null", "[]", '"a job"'])
def test_a_job_record_that_is_not_an_object_is_refused_not_taken_for_a_new_job(tmp_path, capsys, text):
    out = tmp_path / "out"
    out.mkdir()
    (out / "_job.json").write_text(text)
    assert main(["run", "--n", "1", "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"_job.json: holds {text}, not a job record" in err and "Traceback" not in err
    assert "write the job to a new --out" in err and "delete" not in err  # its shards would stay
    assert (out / "_job.json").read_text() == text


@needs_root
def test_a_shard_this_user_cannot_read_is_not_called_corrupt():
    with open_folder() as folder:
        store = ShardStore(folder)
        store.write_job({"fingerprint": "f", "pipelines": ["solid"]})
        shard = store.commit("solid", 0, to_table(rows(2)), {"kept": 2})
        os.chmod(shard, 0o000)

        def status() -> list:
            with contextlib.redirect_stderr(io.StringIO()) as err:
                return [main(["status", folder]), " ".join(err.getvalue().split())]

        kind, message = as_nobody(lambda: store.stats("solid", 0))
        assert kind == "OutputError" and message.startswith(f"{shard}: cannot be read (")
        assert "delete" not in message  # the shard is whole: deleting it would lose its rows
        code, err = as_nobody(status)[1]
        assert code == 2 and f"{shard}: cannot be read" in err and "Traceback" not in err
        os.chmod(f"{folder}/solid", 0o000)
        kind, message = as_nobody(lambda: sorted(store.committed_units("solid")))
        assert kind == "OutputError" and message.startswith(f"{folder}/solid: cannot be read (")


def test_a_shard_an_object_store_does_not_answer_for_is_not_called_corrupt(monkeypatch):
    """Deleting it, as for a corrupt one, would throw away a good shard over a network fault."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with socket.socket() as s:  # a port of 127.0.0.1 nobody listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = ShardStore(f"s3://bucket/out?endpoint_override=127.0.0.1:{port}&scheme=http")
    with pytest.raises(OutputError) as err:
        store.stats("solid", 0)
    message = str(err.value)
    assert "cannot be read" in message and "the connection and credentials" in message
    assert "corrupt" not in message and "delete" not in message
