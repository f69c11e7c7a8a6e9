"""`iccgen stats`: the funnel, and how much the kept captions say."""

from __future__ import annotations

import io

from rich.console import Console

from iccgen.funnel import funnels, print_funnels
from iccgen.schema import Triplet, to_table
from iccgen.store import ShardStore


def _row(i: int, caption: str, claims: int) -> Triplet:
    grounding = {"score": 1.0 if claims else None, "claims": claims, "ungrounded": []}
    return Triplet(id=f"solid-{i}", pipeline="solid", png=b"", caption=caption, code="x = 1",
                   phash=i, width=1, height=1, unit=0, item=i, qc={"grounding": grounding})


def test_stats_report_caption_length_and_claims(tmp_path):
    store = ShardStore(str(tmp_path))
    store.write_job({"fingerprint": "f", "pipelines": ["solid"], "planned": {"solid": 1}})
    rows = [_row(0, "one two three four", 4), _row(1, "one two", 0), _row(2, "a b c d e f", 5)]
    store.commit("solid", 0, to_table(rows), {"kept": 3, "attempts": 4, "rejects": {"ungraded": 1}})
    (f,) = funnels(str(tmp_path))
    assert f.captions == {"graded": 2, "ungraded": 1, "median_words": 4.0, "claims_per_caption": 3.0}
    assert [s.dropped for s in f.stages if s.name == "grounded"] == [{"ungraded": 1}]
    out = io.StringIO()
    print_funnels([f], Console(file=out, width=200))
    assert "captions: median 4 words, 3.0 checkable claims each; 2 graded, 1 ungraded" in out.getvalue()
