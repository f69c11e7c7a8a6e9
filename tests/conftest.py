"""Shared fixtures: one local Ray for the whole session (starting Ray costs 5-7 s and ~1 GB)."""

from __future__ import annotations

from pathlib import Path

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
