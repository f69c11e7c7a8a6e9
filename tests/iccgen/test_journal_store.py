"""Journals live beside the shards, on whatever store the job writes to."""

import pytest

from iccgen.journal_store import JournalStore
from iccgen.schema import to_table
from iccgen.store import ShardStore


@pytest.fixture(params=["local", "s3", "gs"])
def store(request, tmp_path):
    if request.param == "local":
        return ShardStore(str(tmp_path / "out"))
    return ShardStore(request.getfixturevalue(f"{request.param}_out"))


def test_segments_numbered_in_order_and_read_back(store):
    journals = JournalStore(store)
    for n in range(3):
        journals.write_segment("solid", 7, to_table([]), {"items": [n]})
    paths = journals.segments("solid", 7)
    assert [p.rsplit("/", 1)[1] for p in paths] == [f"seg-{n:06d}.parquet" for n in range(3)]
    assert [journals.read_segment(p)[1]["items"] for p in paths] == [[0], [1], [2]]
    assert journals.units("solid") == {7} and store.committed_units("solid") == set()
    assert store.pipelines() == []  # the `_work` folder is no pipeline's output


def test_sweep_removes_only_journals_of_committed_units(store):
    journals = JournalStore(store)
    for unit in (1, 2):
        journals.write_segment("solid", unit, to_table([]), {"items": []})
    store.commit("solid", 2, to_table([]), {})
    assert journals.sweep() == 1
    assert journals.units("solid") == {1} and journals.segments("solid", 2) == []
    journals.remove("solid", 1)
    assert journals.units("solid") == set()
