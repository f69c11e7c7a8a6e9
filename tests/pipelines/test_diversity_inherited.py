"""A mutated solid-geometry program whose structure was kept still says what θ determined."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from pipelines.captions import describe
from pipelines.diversity.inherited import kept_structure, still_determined
from pipelines.facts import facts_from_trace
from pipelines.grounding import check

RECORDS = Path(__file__).parents[1] / "fixtures" / "grounding" / "records.json.gz"


def test_only_mutations_of_looks_keep_the_structure():
    assert kept_structure([{"kind": "color"}, {"kind": "linestyle"}, {"kind": "style"}])
    assert not kept_structure([{"kind": "color"}, {"kind": "constant"}])
    assert not kept_structure([{"kind": "data"}]) and not kept_structure([])


def test_a_recoloured_cube_stack_still_has_its_cubes(unit_sandbox):
    records = json.loads(gzip.decompress(RECORDS.read_bytes()))
    parent = next(r for r in records if r["kind"] == "cube_stack")
    code = parent["code"].replace('color="0.55"', 'color="tab:red"')  # a colour mutation
    assert code != parent["code"]
    facts = facts_from_trace(unit_sandbox.run(code, trace=True).trace)
    kept = still_determined(parent["caption"], parent["params"], facts, code)
    cubes = sum(map(sum, parent["params"]["heights"]))
    assert kept[0].startswith(f"The picture shows {cubes} identical unit cubes")
    assert any(s.startswith("Column heights by row") for s in kept)
    drops = still_determined(parent["caption"] + " The floor lines are drawn in 7 shades of purple.",
                             parent["params"], facts, code)
    assert drops == kept  # a sentence that no longer holds is left out
    caption = " ".join([*kept, describe(facts, np.random.default_rng(0))])
    found = check(caption, facts, code, parent["params"])
    assert found.ungrounded == [] and len(caption.split()) >= 60
