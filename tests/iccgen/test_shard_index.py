"""Row counts and summed stats of committed shards come from one listing and a cache, never
trusted over it."""

import pyarrow as pa
import pytest

from iccgen.schema import Triplet, to_table
from iccgen.shard_index import committed_totals
from iccgen.store import ShardStore


def table(n, unit):
    return to_table([Triplet(id=f"solid-{unit}-{i}", pipeline="solid", png=b"png", caption="c",
                             code="x", phash=i, width=1, height=1, unit=unit, item=i)
                     for i in range(n)])


@pytest.fixture(params=["local", "s3", "gs"])
def store(request, tmp_path):
    where = request.param
    store = ShardStore(str(tmp_path / "out") if where == "local" else request.getfixturevalue(f"{where}_out"))
    for unit, n in ((0, 2), (1, 0), (4, 3)):
        store.commit("solid", unit, table(n, unit), {"kept": n})
    return store


def committed_rows(store, pipeline):
    return {unit: rows for unit, (rows, _) in committed_totals(store, pipeline).items()}


def test_rows_from_footers_once_then_from_the_cache(store, monkeypatch):
    assert committed_rows(store, "solid") == {0: 2, 1: 0, 4: 3}

    def no_footers(pipeline, unit):
        raise AssertionError(f"footer of unit {unit} read again")

    monkeypatch.setattr(store, "footer", no_footers)
    assert committed_rows(store, "solid") == {0: 2, 1: 0, 4: 3}


def test_the_summed_stats_are_cached_and_the_rest_left_in_the_footer(store, monkeypatch):
    stats = {"kept": 0, "shortfall": 1, "rejects": {"seed:corrupt": 1},
             "reject_samples": [{"reason": "seed:corrupt", "detail": "a.png: not an image"}]}
    store.commit("solid", 1, table(0, 1), stats)
    assert committed_totals(store, "solid")[1] == (0, {"shortfall": 1, "rejects": {"seed:corrupt": 1}})
    monkeypatch.setattr(store, "footer", lambda pipeline, unit: pytest.fail("footer read again"))
    assert committed_totals(store, "solid")[1] == (0, {"shortfall": 1, "rejects": {"seed:corrupt": 1}})


def test_a_cache_from_before_it_held_stats_is_rebuilt(store):
    path = store.path("_work", "_index", "solid.parquet")
    store.write_parquet(path, pa.table({"unit": [0], "size": [1], "mtime_ns": [1], "rows": [9]}), {})
    assert committed_rows(store, "solid") == {0: 2, 1: 0, 4: 3}


def test_listing_stays_the_truth(store):
    committed_rows(store, "solid")
    store.fs.delete_file(store.shard_path("solid", 4))  # a corrupt shard deleted by the user...
    assert committed_rows(store, "solid") == {0: 2, 1: 0}
    store.commit("solid", 1, table(5, 1), {"kept": 5})  # ...and a shard rewritten
    store.commit("solid", 7, table(1, 7), {"kept": 1})
    assert committed_rows(store, "solid") == {0: 2, 1: 5, 7: 1}


def test_torn_cache_is_rebuilt(store):
    committed_rows(store, "solid")
    path = store.path("_work", "_index", "solid.parquet")
    with store.fs.open_input_stream(path) as f:
        data = f.read()
    with store.fs.open_output_stream(path) as f:
        f.write(data[: len(data) // 2])
    assert committed_rows(store, "solid") == {0: 2, 1: 0, 4: 3}
    assert store.pipelines() == ["solid"] and store.temporaries() == []
