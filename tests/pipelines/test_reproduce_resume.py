"""A Reproduce job killed mid-unit resumes from its journal: finished seeds cost no new request."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from jobs import kill_when, run_cli, segments_at_least
from model_server import ModelServer, Request, reply, targets_answer

from iccgen.journal import recover
from iccgen.journal_store import JournalStore
from iccgen.store import ShardStore
from iccgen.unit import UnitSpec
from pipelines.reproduce.seeds import decode_seed
from sandbox import Limits, Sandbox

pytestmark = pytest.mark.timeout(300)

PROGRAMS = Path(__file__).parents[1] / "fixtures" / "programs"


class Exact:
    """Answers each seed with the program that drew it; counts requests per seed."""

    def __init__(self, programs: dict[str, str], keys: dict[str, str]):
        self.programs, self.keys = programs, keys
        self.seen: list[tuple[float, str]] = []

    def __call__(self, request: Request) -> object:
        if (answer := targets_answer(request)) is not None:
            return answer
        name = self.keys[hashlib.sha256(request.images[0]).hexdigest()]
        self.seen.append((time.monotonic(), name))
        if "A detailed description of the image" not in request.text:
            return reply(f"A STEM figure drawn by the program {name}.")
        return reply(f"```python\n{self.programs[name]}```\n")


def render_seeds(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    programs = {p.stem: p.read_text() for p in sorted(PROGRAMS.glob("*.py"))}
    keys = {}
    with Sandbox(limits=Limits(figsize=(6, 6), dpi=80)) as sb:
        for name, code in programs.items():
            png = sb.run(code).png
            (folder / f"{name}.png").write_bytes(png)
            keys[hashlib.sha256(decode_seed(png)[0]).hexdigest()] = name
    return programs, keys


def test_killed_reproduce_job_repeats_no_request_for_a_finished_seed(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    programs, keys = render_seeds(seeds)
    n = len(programs)
    script = Exact(programs, keys)
    # Two slots and some latency: the unit's items finish one by one, as on a busy GPU.
    # The scripted captions claim nothing checkable: accept them, so resumed rows are kept rows.
    config = tmp_path / "job.toml"
    config.write_text("[qc]\nmin_claims = 0\n")
    with ModelServer(script, capacity=2, latency=0.15) as server:
        args = [str(config), "--pipeline", "reproduce", "--seeds", str(seeds), "--endpoint", server.url,
                "--model", "test-model", "--n", str(n), "--shard-size", str(n), "--workers", "1",
                "--out", str(tmp_path / "out")]
        store = ShardStore(str(tmp_path / "out"))
        kill_when(args, segments_at_least(store, "reproduce", 3))
        assert store.committed_units("reproduce") == set()
        journaled = recover(store, UnitSpec("reproduce", 0, n, 0)).results
        done_items = {r.item for r in journaled}
        assert 0 < len(done_items) < n
        before = len(script.seen)

        resumed = run_cli(args)
        assert resumed.returncode == 0, resumed.stderr

    seed_names = sorted(programs)  # the plan takes seeds in path order: item i is seed i
    finished = {seed_names[i] for i in done_items}
    after = [name for _, name in script.seen[before:]]
    assert finished.isdisjoint(after), "a seed finished before the kill was asked for again"
    assert after and set(after) <= set(seed_names) - finished
    stats = store.stats("reproduce", 0)
    assert stats["resumed_items"] >= len(done_items)
    assert stats["kept"] > 0, stats
    assert stats["kept"] + stats["shortfall"] == n
    assert JournalStore(store).units("reproduce") == set()
