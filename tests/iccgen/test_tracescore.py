"""Judge-free trace similarity: multiset F1 and the features it is taken over."""

from __future__ import annotations

import pytest

from iccgen.tracescore import f1, trace_score

TRACE = {
    "texts": [{"text": "Force  F", "role": "title", "color": "#000000"},
              {"text": "1", "role": "xtick", "color": "#000000"}],
    "lines": [{"color": "#1f77b4", "linestyle": "-"}, {"color": "#ff0000", "linestyle": "None"}],
    "patches": [{"kind": "Rectangle", "facecolor": "#1f77b4"}],
    "collections": [], "images": [],
    "axes": [{"kind": "rectilinear", "visible": True, "bbox_px": [10, 10, 110, 60]},
             {"kind": "rectilinear", "visible": True, "bbox_px": [10, 70, 110, 120]}],
}


def test_f1_counts_repeats_and_treats_two_empty_sides_as_agreeing():
    assert f1([], []) == 1.0 and f1(["a"], []) == 0.0
    assert f1(["a", "a", "b"], ["a", "b"]) == pytest.approx(0.8)


def test_identical_traces_score_one_and_changes_lower_only_their_part():
    assert trace_score(TRACE, TRACE).mean == 1.0
    recoloured = {**TRACE, "lines": [{**TRACE["lines"][0], "color": "#00ff00"}, TRACE["lines"][1]]}
    score = trace_score(TRACE, recoloured)
    assert score.colour_f1 < 1 and score.text_f1 == score.kind_f1 == score.layout_f1 == 1
    # the same two panels side by side instead of stacked: only the layout differs
    side = {**TRACE, "axes": [{**TRACE["axes"][0], "bbox_px": [10, 10, 60, 60]},
                              {**TRACE["axes"][1], "bbox_px": [70, 10, 120, 60]}]}
    assert trace_score(TRACE, side).layout_f1 < 1 == trace_score(TRACE, side).text_f1
    assert trace_score(TRACE, {"summary": {}, "truncated": True}).mean == 0  # a cut trace matches nothing
