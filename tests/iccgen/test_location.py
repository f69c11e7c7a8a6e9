"""A path or URI to (filesystem, path); a URI that lost its '//' is refused, not taken as a folder."""

import os

import pyarrow.fs as pafs
import pytest

from iccgen import location
from iccgen.cli import main
from iccgen.errors import InputError, OutputError

ENDPOINT = ["--endpoint", "http://127.0.0.1:9/v1"]  # never called: the input is refused first


def refuse(why: str) -> InputError:
    return InputError(f"where: {why}")


@pytest.mark.parametrize("path, meant", [
    ("s3:/bucket/x", "s3://bucket/x"),
    ("s3:bucket", "s3://bucket"),
    ("gs:/b", "gs://b"),
    ("GCS:b/p", "gcs://b/p"),
    ("hdfs:namenode:8020/data", "hdfs://namenode:8020/data"),
    ("abfss:/c@a/p", "abfss://c@a/p"),
    ("file:/tmp/x", "file:///tmp/x"),
    ("file:runs/a", f"file://{os.path.abspath('runs/a')}"),  # relative to here, not to /
    ("s3:", "s3://bucket/prefix"),
])
def test_a_scheme_without_slashes_is_refused_with_the_uri_form(path, meant):
    with pytest.raises(InputError, match="^where: a URI needs '//'") as err:
        location.resolve(path, refuse)
    assert f"write {meant} " in str(err.value) and f"./{path} for a local folder" in str(err.value)


@pytest.mark.parametrize("path", ["runs/a:b", "a:b", "data:2024/x", "./s3:/b", "/abs/s3:/b"])
def test_a_local_path_with_a_colon_elsewhere_is_a_local_path(path):
    fs, root = location.resolve(path, refuse)
    assert isinstance(fs, pafs.LocalFileSystem) and root == os.path.abspath(path)


def test_a_uri_is_opened_and_a_bad_one_refused_in_the_callers_words():
    fs, root = location.resolve("mock:///x", refuse)
    assert fs.type_name == "mock" and root == "x"
    fs, root = location.resolve("MOCK:///x", refuse)  # a scheme is case-insensitive
    assert fs.type_name == "mock" and root == "x"
    with pytest.raises(InputError, match="^where: .*bucket"):
        location.resolve("s3:///no-bucket", refuse)


@pytest.mark.parametrize("uri", ["s3://", "gs://", "S3://?region=x", "gcs:///data"])
def test_a_uri_without_a_bucket_is_refused_naming_the_form(uri):
    """Not mangled on the way either: a query added to `s3://` used to drop its '//'."""
    scheme = uri.split(":")[0].lower()
    with pytest.raises(InputError) as err:
        location.resolve(location.with_default(uri, (scheme,), "k", "v"), refuse)
    assert str(err.value).startswith(f"where: {scheme}://")
    assert str(err.value).endswith(f" names no bucket: write {scheme}://BUCKET/PREFIX")


@pytest.mark.parametrize("uri", ["gs://b/run#1", "s3://b/out#x?endpoint_override=127.0.0.1:9"])
def test_a_fragment_in_a_uri_is_refused_not_dropped(uri):
    with pytest.raises(InputError, match="^where: '#' starts a URI's fragment, which is dropped"):
        location.resolve(uri, refuse)


def _retry_limit(fs: pafs.FileSystem) -> float:
    return fs.__reduce__()[1][0]["retry_time_limit"].total_seconds()


def test_a_gs_uri_retries_a_minute_not_pyarrows_quarter_hour_unless_it_says():
    """Without credentials pyarrow would look for them for 15 minutes before the first error."""
    gs = "gs://anonymous@bucket/out?endpoint_override=127.0.0.1:9&scheme=http"
    fs, root = location.resolve(gs, refuse)
    assert root == "bucket/out" and _retry_limit(fs) == location.GCS_RETRY_LIMIT_S
    fs, _ = location.resolve(gs + "&retry_limit_seconds=5", refuse)
    assert _retry_limit(fs) == 5


@pytest.mark.parametrize("args, error", [
    (["--out", "s3:/bucket/x"], "s3:/bucket/x: cannot open output location: a URI needs '//' after "
     "'s3:': write s3://bucket/x"),
    (["--out", "gs:b"], "gs:b: cannot open output location: a URI needs '//' after 'gs:': write gs://b"),
    (["--pipeline", "reproduce", "--seeds", "s3:/seeds", *ENDPOINT, "--out", "out"],
     "reproduce.seeds: cannot open s3:/seeds: a URI needs '//' after 's3:': write s3://seeds"),
    (["--pipeline", "diversity", "--from", "gs:/parent/out", "--out", "out"],
     "diversity.from: cannot open gs:/parent/out: a URI needs '//' after 'gs:': write gs://parent/out"),
])
def test_cli_refuses_a_uri_typo_and_writes_nothing(tmp_path, monkeypatch, capsys, args, error):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--n", "1", *args]) == 2
    err = capsys.readouterr().err
    assert error in " ".join(err.split()) and "Traceback" not in err
    assert os.listdir(tmp_path) == []  # no folder "s3:" or "gs:b", no "out"
