"""Partial units survive a kill: finished items are journaled and not redone."""

import asyncio
import os

import pandas as pd
from jobs import kill_when, run_cli, segments_at_least
from rich.console import Console
from users import as_nobody, needs_root, open_folder

from iccgen.config import load_config
from iccgen.journal import Journal, recover
from iccgen.journal_store import JournalStore
from iccgen.runner import run_job
from iccgen.schema import Triplet, to_table
from iccgen.store import ShardStore
from iccgen.unit import ItemResult, UnitSpec, UnitStats

SPEC = UnitSpec("solid", 0, 10, 0)


def result(item, kept=True):
    triplet = Triplet(id=f"t{item}", pipeline="solid", png=b"png", caption="c", code="x", phash=item,
                      width=1, height=1, unit=0, item=item) if kept else None
    return ItemResult(item, 2, [(0, "near_duplicate", "phash")], triplet)


def journal_items(store, items, stats=None):
    stats = stats or UnitStats()
    journal = Journal(store, SPEC, stats, every_s=0)

    async def go():
        for i in items:
            stats.add(r := result(i, kept=i % 3 != 0))
            await journal.add(r)

    asyncio.run(go())
    return stats


def test_segments_recover_items_rows_and_usage(tmp_path):
    store = ShardStore(str(tmp_path))
    stats = UnitStats()
    stats.usage["prompt_tokens"] = 40
    journal_items(store, [0, 1, 2], stats)
    journal_items(store, [3, 4])
    assert len(JournalStore(store).segments("solid", 0)) == 5
    rec = recover(store, SPEC)
    assert sorted(r.item for r in rec.results) == [0, 1, 2, 3, 4]
    kept = {r.item: r.triplet.id for r in rec.results if r.triplet}
    assert kept == {1: "t1", 2: "t2", 4: "t4"}
    assert rec.results[0].rejects == [(0, "near_duplicate", "phash")]
    assert JournalStore(store).units("solid") == {0}


def test_torn_segment_is_dropped_not_trusted(tmp_path):
    store = ShardStore(str(tmp_path))
    journal_items(store, [0, 1, 2, 3])
    last = JournalStore(store).segments("solid", 0)[-1]
    data = open(last, "rb").read()
    open(last, "wb").write(data[: len(data) // 3])
    rec = recover(store, SPEC)
    assert sorted(r.item for r in rec.results) == [0, 1, 2]
    assert rec.dropped == [last]


@needs_root
def test_a_segment_this_user_cannot_read_is_an_error_not_dropped():
    with open_folder() as folder:
        store = ShardStore(folder)
        journal_items(store, [0, 1])
        segment = JournalStore(store).segments("solid", 0)[-1]
        os.chmod(segment, 0o000)
        kind, message = as_nobody(lambda: len(recover(store, SPEC).dropped))
        assert kind == "OutputError" and message.startswith(f"{segment}: cannot be read (")


def test_journal_of_committed_unit_is_swept(tmp_path):
    store = ShardStore(str(tmp_path))
    journal_items(store, [0])
    assert JournalStore(store).sweep() == 0
    store.commit("solid", 0, to_table([]), {})
    assert JournalStore(store).sweep() == 1 and JournalStore(store).units("solid") == set()


def test_killed_unit_resumes_from_its_last_finished_item(ray_session, tmp_path):
    n = 90
    out = tmp_path / "killed"
    args = ["--pipeline", "solid", "--n", str(n), "--shard-size", str(n), "--seed", "9",
            "--workers", "1", "--out", str(out)]
    store = ShardStore(str(out))
    kill_when(args, segments_at_least(store, "solid", 2))
    before_resume = recover(store, UnitSpec("solid", 0, n, 9)).results
    journaled = len(before_resume)
    assert 0 < journaled < n
    resumed = run_cli(args)
    assert resumed.returncode == 0, resumed.stderr
    assert store.stats("solid", 0)["resumed_items"] >= journaled
    got = pd.read_parquet(out / "solid")
    assert list(got["id"]) == [f"solid-u00000-i{i:05d}-v00" for i in range(n)]
    by_id = dict(zip(got["id"], got["code"]))
    for r in before_resume:  # finished before the kill: kept as they were, not redone
        if r.triplet is not None:
            assert by_id[r.triplet.id] == r.triplet.code
    # Byte for byte the rows of an uninterrupted run (metadata timings aside).
    run_job(load_config(pipelines=["solid"], n=n, shard_size=n, seed=9, workers=1,
                        out=str(tmp_path / "ref")), Console(quiet=True))
    ref = pd.read_parquet(tmp_path / "ref" / "solid")
    assert list(got["code"]) == list(ref["code"]) and list(got["caption"]) == list(ref["caption"])
    assert [i["bytes"] for i in got["image"]] == [i["bytes"] for i in ref["image"]]
    assert JournalStore(store).units("solid") == set() and store.temporaries() == []
