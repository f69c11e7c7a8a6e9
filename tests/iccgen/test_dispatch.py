"""Scheduling faults through real Ray: a unit that always fails is quarantined, not rerun forever."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from iccgen import quarantine
from iccgen.config import load_config
from iccgen.errors import JobFailed
from iccgen.report import print_status
from iccgen.runner import run_job
from iccgen.store import ShardStore
from workers.unit_worker import MAX_CANDIDATE_ERRORS

PROGRAMS = Path(__file__).parents[1] / "fixtures" / "programs"
# Over the sandbox's 1 MB code limit: every variation of it raises CodeTooLarge.
OVERSIZED = "NOTES = " + repr("x" * 1_000_000) + "\n" + (PROGRAMS / "bar_rainfall.py").read_text()
ATTEMPTS = MAX_CANDIDATE_ERRORS // 2  # two items of the oversized parent reach the unit's cap


@pytest.fixture
def poisoned_job(tmp_path):
    """Parents alternate good, oversized: unit 0 (4 items, 2 oversized) always fails at the
    cap, unit 1 (2 items, 1 oversized) commits its good item and rejects the other."""
    parents = tmp_path / "parents"
    parents.mkdir()
    (parents / "a_good.py").write_text((PROGRAMS / "projectile_motion.py").read_text())
    (parents / "b_oversized.py").write_text(OVERSIZED)
    return load_config(pipelines=["diversity"], n=6, shard_size=4, seed=2, workers=1,
                       max_attempts=ATTEMPTS, out=str(tmp_path / "out"),
                       diversity={"from": str(parents), "k": 3})


def status(out: str) -> str:
    console = Console(record=True, width=200)
    print_status(out, console)
    return console.export_text()


def test_a_unit_that_always_fails_is_quarantined_and_tried_once_more_next_run(ray_session, poisoned_job):
    store = ShardStore(poisoned_job.out)
    console = Console(record=True, width=200)
    with pytest.raises(JobFailed, match=r"1 unit\(s\) failed \(diversity/00000\)"):
        run_job(poisoned_job, console)
    log = console.export_text()
    assert log.count("retrying diversity/00000") == quarantine.TRIES - 1
    assert store.committed_units("diversity") == {1}
    assert store.stats("diversity", 1)["rejects"] == {"error:CodeTooLarge": ATTEMPTS}
    held = quarantine.held(store)["diversity/00000"]
    assert held["tries"] == quarantine.TRIES and "CandidateErrors" in held["reason"]
    assert "CodeTooLarge" in held["reason"]
    shown = status(poisoned_job.out)
    assert "quarantined diversity/00000 after 3 tries" in shown and "CodeTooLarge" in shown

    console = Console(record=True, width=200)
    with pytest.raises(JobFailed, match="diversity/00000"):
        run_job(poisoned_job, console)
    assert "retrying" not in console.export_text()
    assert quarantine.held(store)["diversity/00000"]["tries"] == quarantine.TRIES + 1
