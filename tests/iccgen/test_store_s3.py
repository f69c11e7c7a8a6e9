"""The shard store on a real S3-compatible server (moto's standalone server on 127.0.0.1)."""

import subprocess
import sys
import textwrap
from urllib.parse import urlsplit

import boto3
import pandas as pd
import pyarrow.fs as pafs
import pytest
from jobs import kill_when, run_cli

from iccgen.errors import OutputError
from iccgen.journal_store import JournalStore
from iccgen.schema import Triplet, to_table
from iccgen.store import ShardStore


def rows(n, unit=0):
    return [Triplet(id=f"solid-{unit}-{i}", pipeline="solid", png=b"\x89PNG fake", caption=f"c{i}",
                    code="print(1)", phash=i, width=10, height=20, unit=unit, item=i) for i in range(n)]


def s3_client(uri):
    endpoint = dict(p.split("=") for p in urlsplit(uri).query.split("&"))["endpoint_override"]
    return boto3.client("s3", endpoint_url=f"http://{endpoint}")


def keys(uri):
    bucket = urlsplit(uri).netloc
    return sorted(o["Key"] for o in s3_client(uri).list_objects_v2(Bucket=bucket).get("Contents", []))


def pending_uploads(uri):
    return s3_client(uri).list_multipart_uploads(Bucket=urlsplit(uri).netloc).get("Uploads", [])


def test_commit_list_read_job_file_and_journal_on_s3(s3_out):
    store = ShardStore(s3_out)
    assert store.commit_mode == "put"
    store.check_writable()
    store.write_job({"fingerprint": "abc"})
    store.commit("solid", 2, to_table(rows(3, unit=2)), {"kept": 3})
    journals = JournalStore(store)
    journals.write_segment("solid", 5, to_table(rows(1, unit=5)), {"items": []})
    assert store.read_job() == {"fingerprint": "abc"}
    assert store.committed_units("solid") == {2} and store.stats("solid", 2)["kept"] == 3
    assert store.read("solid").column("caption").to_pylist() == ["c0", "c1", "c2"]
    assert journals.units("solid") == {5}
    journals.remove("solid", 5)
    assert journals.units("solid") == set()
    shards = [k for k in keys(s3_out) if k.endswith(".parquet")]
    assert shards == ["out/solid/part-00002.parquet"]  # straight to the final key, no temporary


def test_endpoint_from_aws_endpoint_url(s3_out, monkeypatch):
    endpoint = dict(p.split("=") for p in urlsplit(s3_out).query.split("&"))["endpoint_override"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{endpoint}")
    plain = s3_out.split("?")[0]
    ShardStore(plain).commit("solid", 0, to_table(rows(1)), {})
    assert ShardStore(s3_out).committed_units("solid") == {0}


def test_writer_killed_before_close_leaves_nothing(s3_out):
    # A real process writes the whole shard into the stream and dies before closing it.
    script = textwrap.dedent(f"""
        import os, signal
        from iccgen.store import ShardStore
        store = ShardStore({s3_out!r})
        stream = store.fs.open_output_stream(store.shard_path("solid", 0))
        stream.write(b"PAR1" + b"x" * 200_000)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    store = ShardStore(s3_out)
    assert store.committed_units("solid") == set()
    assert pending_uploads(s3_out) == [] and keys(s3_out) == []


def test_missing_bucket_is_refused_with_a_message(s3_out):
    missing = s3_out.replace(urlsplit(s3_out).netloc, "no-such-bucket-here", 1)
    with pytest.raises(OutputError, match="not writable.*choose another --out"):
        ShardStore(missing).check_writable()


@pytest.mark.slow
def test_job_to_s3_killed_and_resumed_exactly_once(s3_out):
    n, size = 24, 4
    args = ["--pipeline", "solid", "--n", str(n), "--shard-size", str(size), "--seed", "5",
            "--workers", "1", "--out", s3_out]
    store = ShardStore(s3_out)
    kill_when(args, lambda: len(store.committed_units("solid")) >= 2)
    assert 2 <= len(store.committed_units("solid")) < n // size
    resumed = run_cli(args)
    assert resumed.returncode == 0, resumed.stderr
    fs, root = pafs.FileSystem.from_uri(s3_out)
    got = pd.read_parquet(f"{root}/solid", filesystem=fs)
    assert sorted(got["id"]) == sorted(f"solid-u{u:05d}-i{i:05d}-v00" for u in range(n // size)
                                       for i in range(size))
    assert store.read_job()["output"]["commit"] == "put"
    assert store.temporaries() == [] and JournalStore(store).units("solid") == set()
    assert pending_uploads(s3_out) == []
