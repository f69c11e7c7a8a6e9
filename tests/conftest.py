"""Shared fixtures: one local Ray for the whole session (starting Ray costs 5-7 s and ~1 GB)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable

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
