"""The shard store on real object-store servers on 127.0.0.1: S3 (moto's standalone server) and
GCS (fake-gcs-server)."""

import json
import subprocess
import sys
import textwrap
import urllib.request
from urllib.parse import parse_qsl, quote, urlsplit

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


@pytest.fixture(params=["s3", "gs"])
def remote_out(request) -> str:
    return request.getfixturevalue(f"{request.param}_out")


def endpoint(uri):
    return dict(parse_qsl(urlsplit(uri).query))["endpoint_override"]


def s3_client(uri):
    return boto3.client("s3", endpoint_url=f"http://{endpoint(uri)}")


def keys(uri):
    bucket = urlsplit(uri).hostname
    if uri.startswith("gs://"):  # the JSON API's object listing
        with urllib.request.urlopen(f"http://{endpoint(uri)}/storage/v1/b/{quote(bucket)}/o") as r:
            return sorted(o["name"] for o in json.load(r).get("items", []))
    return sorted(o["Key"] for o in s3_client(uri).list_objects_v2(Bucket=bucket).get("Contents", []))


def pending_uploads(uri):
    """S3's unfinished multipart uploads. GCS cannot list its unfinished (resumable) uploads: a
    session that is never finalised holds no object and expires after a week."""
    if uri.startswith("gs://"):
        return []
    return s3_client(uri).list_multipart_uploads(Bucket=urlsplit(uri).hostname).get("Uploads", [])


def test_commit_list_read_job_file_and_journal(remote_out):
    store = ShardStore(remote_out)
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
    shards = [k for k in keys(remote_out) if k.endswith(".parquet")]
    assert shards == ["out/solid/part-00002.parquet"]  # straight to the final key, no temporary


def test_endpoint_from_aws_endpoint_url(s3_out, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{endpoint(s3_out)}")
    plain = s3_out.split("?")[0]
    ShardStore(plain).commit("solid", 0, to_table(rows(1)), {})
    assert ShardStore(s3_out).committed_units("solid") == {0}


def test_writer_killed_before_close_leaves_nothing(remote_out):
    # A real process writes the whole shard into the stream and dies before closing it. On GCS
    # the stream is a resumable upload that sends every whole 256 KiB as it goes (the server
    # answers 308, incomplete), so this shard's bytes do reach the server before the kill.
    script = textwrap.dedent(f"""
        import os, signal
        from iccgen.store import ShardStore
        store = ShardStore({remote_out!r})
        stream = store.fs.open_output_stream(store.shard_path("solid", 0))
        stream.write(b"PAR1" + b"x" * 600_000)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    store = ShardStore(remote_out)
    assert store.committed_units("solid") == set()
    assert pending_uploads(remote_out) == [] and keys(remote_out) == []


def test_missing_bucket_is_refused_with_a_message(remote_out):
    missing = remote_out.replace(urlsplit(remote_out).hostname, "no-such-bucket-here", 1)
    with pytest.raises(OutputError, match="not writable.*choose another --out"):
        ShardStore(missing).check_writable()


@pytest.mark.slow
def test_job_killed_and_resumed_exactly_once(remote_out):
    n, size = 24, 4
    args = ["--pipeline", "solid", "--n", str(n), "--shard-size", str(size), "--seed", "5",
            "--workers", "1", "--out", remote_out]
    store = ShardStore(remote_out)
    kill_when(args, lambda: len(store.committed_units("solid")) >= 2)
    assert 2 <= len(store.committed_units("solid")) < n // size
    resumed = run_cli(args)
    assert resumed.returncode == 0, resumed.stderr
    fs, root = pafs.FileSystem.from_uri(remote_out)
    got = pd.read_parquet(f"{root}/solid", filesystem=fs)
    assert sorted(got["id"]) == sorted(f"solid-u{u:05d}-i{i:05d}-v00" for u in range(n // size)
                                       for i in range(size))
    assert store.read_job()["output"]["commit"] == "put"
    assert store.temporaries() == [] and JournalStore(store).units("solid") == set()
    assert pending_uploads(remote_out) == []
