"""`iccgen status`: the dataset's ungrounded-claim rate and the rejects per check."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from iccgen.cli import main
from iccgen.errors import OutputError
from iccgen.readers import open_dataset
from iccgen.report import check_of, print_status, quality
from iccgen.schema import Triplet, to_table
from iccgen.store import ShardStore


def _row(i: int, grounding: dict | None, words: int = 1) -> Triplet:
    qc = {"checks": {"image": "pass"}} | ({"grounding": grounding} if grounding else {})
    # Rows 0-2 hold a code target (row 1's was dropped as ungrounded); rows 0 and 1 had their
    # caption drafted by a model, and row 0 kept the refined one.
    if i < 3:
        qc["code_target"] = {"source": "model"} | ({"dropped": "ungrounded: 7"} if i == 1 else {})
    meta = {"caption": {"chosen": "refined" if i == 0 else "draft"}} if i < 2 else {}
    return Triplet(id=f"solid-{i}", pipeline="solid", png=b"", caption=" ".join(["c"] * words),
                   code="x = 1", phash=i, width=1, height=1, unit=0, item=i,
                   qc=qc if grounding or i < 3 else {"checks": {}}, meta=meta)


def _job(out) -> ShardStore:
    store = ShardStore(str(out))
    store.write_job({"fingerprint": "f", "pipelines": ["solid"], "planned": {"solid": 2},
                     "config": {"n": 4, "qc": {"min_grounding": 1.0}}})
    good = {"score": 1.0, "claims": 4, "ungrounded": []}
    bad = {"score": 0.5, "claims": 2, "ungrounded": ["7 (line)"]}
    store.commit("solid", 0, to_table([_row(0, good), _row(1, bad)]),
                 {"kept": 2, "attempts": 5, "rejects": {"ungrounded": 2, "exec:timeout": 1}})
    # Row 4 claims nothing (no score); row 5 too, from a shard written when that scored 1.0.
    nothing = {"score": None, "claims": 0, "ungrounded": []}
    old = {"score": 1.0, "claims": 0, "ungrounded": []}
    store.commit("solid", 1, to_table([_row(2, good, 9), _row(3, None), _row(4, nothing, 3),
                                       _row(5, old, 4)]),
                 {"kept": 4, "attempts": 6, "rejects": {"near_duplicate": 1, "text_overlap": 1,
                                                       "ungraded": 1}})
    return store


def test_quality_reads_the_grounding_of_kept_rows(tmp_path):
    q = quality(_job(tmp_path), "solid")
    assert (q.rows, q.graded, q.ungraded, q.with_ungrounded) == (6, 3, 2, 1)
    assert (q.code_targets, q.drafted, q.refined) == (2, 2, 1)
    # An ungraded row is not a grounded one: the score is over the graded rows only.
    assert abs(q.ungrounded_rate - 1 / 3) < 1e-9 and abs(q.mean_score - 2.5 / 3) < 1e-9
    assert q.median_words == 2.0 and q.mean_claims == (4 + 2 + 4 + 0 + 0) / 5


@pytest.mark.parametrize("where", ["local", "s3", "gs"])
def test_status_prints_the_rate_and_rejects_per_check(where, tmp_path, request):
    location = str(tmp_path) if where == "local" else request.getfixturevalue(f"{where}_out")
    _job(location)
    out = io.StringIO()
    print_status(location, Console(file=out, width=200))
    text = out.getvalue()
    assert "1 (33.3%)" in text and "0.833" in text and "1/2" in text and "2/6" in text
    assert "3/6" in text  # graded
    assert "grounding 3" in text and "exec 1" in text and "dedup 1" in text and "texts 1" in text
    assert "1 of 3 graded rows have an ungrounded claim (33.33%)" in text


def test_the_quality_table_fits_an_80_column_terminal(tmp_path):
    """A measure per row: ten columns side by side cut every header and number to `…`."""
    _job(tmp_path)
    out = io.StringIO()
    print_status(str(tmp_path), Console(file=out, width=80))
    text = out.getvalue()
    assert "…" not in text
    assert "│ rows with an ungrounded claim │ 1 (33.3%)" in text


def test_reasons_map_to_their_check():
    assert [check_of(r) for r in ("exec:timeout", "blank_image", "ungrounded", "dissimilar")] == [
        "exec", "image", "grounding", "dissimilar"]


def _error(capsys) -> str:
    """What the command printed to stderr, unwrapped (rich breaks long lines at spaces)."""
    return " ".join(capsys.readouterr().err.split())


def _inspect(out: str, pipeline: str | None) -> int:
    return main(["inspect", out] + (["--pipeline", pipeline] if pipeline else []))


def _gallery(out: str, pipeline: str | None) -> int:
    return main(["inspect", out, "--html", f"{out}/gallery"] + (["--pipeline", pipeline] if pipeline else []))


def _open(out: str, pipeline: str | None) -> int:
    try:
        open_dataset(out, [pipeline] if pipeline else None)
    except OutputError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


def _empty_job(out, planned: int, committed: int) -> None:
    store = ShardStore(str(out))
    store.write_job({"fingerprint": "f", "pipelines": ["solid"], "planned": {"solid": planned}})
    for unit in range(committed):
        store.commit("solid", unit, to_table([]), {"kept": 0, "shortfall": 1,
                                                   "rejects": {"blank_image": 1}})


@pytest.mark.parametrize("view", [_inspect, _gallery, _open])
@pytest.mark.parametrize("pipeline, says", [
    ("solidd", "there is no pipeline 'solidd' (iccgen's pipelines: solid, diversity, reproduce); "
               "this job's: solid"),
    ("reproduce", "this job did not run reproduce; its pipelines: solid"),
], ids=["typo", "not_in_the_job"])
def test_a_pipeline_not_in_the_job_is_named_as_such(tmp_path, capsys, view, pipeline, says):
    _job(tmp_path)
    assert view(str(tmp_path), pipeline) == OutputError.exit_code
    assert says in _error(capsys)


@pytest.mark.parametrize("view", [_inspect, _gallery])
def test_a_finished_job_without_rows_says_so(tmp_path, capsys, view):
    _empty_job(tmp_path, planned=2, committed=2)
    assert view(str(tmp_path), None) == OutputError.exit_code
    text = _error(capsys)
    assert "the job finished and kept no rows in solid" in text and "yet" not in text
    assert f"iccgen inspect {tmp_path} --rejects" in text


@pytest.mark.parametrize("view", [_inspect, _gallery, _open])
def test_no_rows_yet_only_while_the_job_is_unfinished(tmp_path, capsys, view):
    _empty_job(tmp_path, planned=2, committed=0)
    assert view(str(tmp_path), None) == OutputError.exit_code
    assert "no committed rows yet in solid" in _error(capsys)
