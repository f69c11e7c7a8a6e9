"""A unit's items in the worker, outside Ray: a candidate that raises is a reject, not a failed unit."""

from __future__ import annotations

import asyncio
from pathlib import Path


from iccgen.config import JobConfig
from iccgen.errors import CandidateErrors
from iccgen.journal import Journal, recover
from iccgen.store import ShardStore
from iccgen.unit import UnitContext, UnitStats
from pipelines.diversity.pipeline import AstDiversity
from pipelines.registry import get_pipeline
from workers.unit_worker import MAX_CANDIDATE_ERRORS, UnitWorker, run_items

PROGRAMS = Path(__file__).parents[1] / "fixtures" / "programs"
# A parent over the sandbox's code limit (1 MB): each of its variations raises CodeTooLarge.
OVERSIZED = "NOTES = " + repr("x" * 1_100_000) + "\n" + (PROGRAMS / "bar_rainfall.py").read_text()


def parents(folder: Path, good: list[str], oversized: int) -> Path:
    folder.mkdir()
    for name in good:
        (folder / f"{name}.py").write_text((PROGRAMS / f"{name}.py").read_text())
    for i in range(oversized):
        (folder / f"z_oversized_{i}.py").write_text(OVERSIZED)
    return folder


def unit(tmp_path: Path, sandbox, source: Path, n: int, max_attempts: int):
    """Unit 0 of an AST-diversity job over `source`, as a worker sets it up."""
    job = JobConfig.model_validate({"pipelines": ["diversity"], "n": n, "shard_size": n, "seed": 3,
                                    "out": str(tmp_path / "out"), "max_attempts": max_attempts,
                                    "dedup": {"enabled": False},
                                    "diversity": {"from": str(source), "k": n}})
    pipeline = AstDiversity(job)
    store = ShardStore(job.out)
    spec = pipeline.plan(store)[0]
    ctx = UnitContext(spec, job, sandbox, None, UnitStats())
    return pipeline, ctx, Journal(store, spec, ctx.stats, every_s=0.0), store


async def work(pipeline, ctx, journal):
    """run_items, then what is still running on the loop once it returned or raised."""
    try:
        return await run_items(pipeline, ctx, journal, list(range(ctx.spec.items)), [0, 0]), None
    except Exception as e:
        await asyncio.sleep(0)
        return e, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


def test_oversized_parent_rejects_its_candidates_and_the_unit_keeps_the_rest(tmp_path, unit_sandbox):
    source = parents(tmp_path / "parents", ["bar_rainfall", "projectile_motion"], oversized=1)
    pipeline, ctx, journal, _ = unit(tmp_path, unit_sandbox, source, n=6, max_attempts=2)
    results, _ = asyncio.run(work(pipeline, ctx, journal))
    by_parent = {r.item: ctx.spec.inputs[r.item][0].id for r in results}
    poisoned = [r for r in results if by_parent[r.item] == "py:z_oversized_0"]
    healthy = [r for r in results if by_parent[r.item] != "py:z_oversized_0"]
    assert len(poisoned) == 2 and len(healthy) == 4
    assert all(r.triplet is None for r in poisoned)
    assert {reason for r in poisoned for _, reason, _ in r.rejects} == {"error:CodeTooLarge"}
    assert "max_code_bytes" in poisoned[0].rejects[0][2]
    assert sum(r.triplet is not None for r in healthy) >= 3
    assert ctx.stats.rejects["error:CodeTooLarge"] == 4


def test_a_unit_whose_candidates_keep_raising_fails_naming_the_error(tmp_path, unit_sandbox):
    source = parents(tmp_path / "parents", [], oversized=1)
    n = 3 * MAX_CANDIDATE_ERRORS  # far more candidates than the cap
    pipeline, ctx, journal, store = unit(tmp_path, unit_sandbox, source, n=n, max_attempts=1)
    error, running = asyncio.run(work(pipeline, ctx, journal))
    assert isinstance(error, CandidateErrors), error
    assert "diversity/00000: 20 candidates raised" in str(error)
    assert "error:CodeTooLarge" in str(error)
    # The failure cancelled the unit's other items, and what finished before it is journaled.
    assert running == []
    journaled = recover(store, ctx.spec).results
    assert MAX_CANDIDATE_ERRORS - 2 <= len(journaled) < MAX_CANDIDATE_ERRORS
    # A rerun counts the journaled errors: it fails at the next one instead of 20 more.
    _, again, journal, _ = unit(tmp_path, unit_sandbox, source, n=n, max_attempts=1)
    for result in journaled:
        again.stats.add(result)
    error, _ = asyncio.run(work(pipeline, again, journal))
    assert isinstance(error, CandidateErrors)
    assert again.stats.attempts == len(journaled)


def test_a_committed_unit_is_reported_from_its_shard_and_never_run_again(tmp_path):
    job = JobConfig.model_validate({"pipelines": ["solid"], "n": 2, "shard_size": 2, "seed": 1,
                                    "out": str(tmp_path / "out"), "dedup": {"enabled": False}})
    pipeline = get_pipeline("solid", job)
    spec = pipeline.plan(ShardStore(job.out))[0]
    worker = UnitWorker(job.model_dump(mode="json", by_alias=True))
    try:
        first = asyncio.run(worker.run_unit(pipeline, spec, None))
        shard = Path(first["path"])
        written = shard.stat().st_mtime_ns
        # As after a worker that died between its commit and its reply: the unit comes again.
        again = asyncio.run(worker.run_unit(pipeline, spec, None))
    finally:
        worker.close()
    assert first["rows"] == 2 and again["rows"] == 2
    assert again["stats"]["attempts"] == first["stats"]["attempts"]
    assert shard.stat().st_mtime_ns == written
