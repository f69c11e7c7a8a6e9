"""Model-free captions describe what is drawn, and every claim they make is graded and holds."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.captions import describe
from pipelines.facts import facts_from_trace
from pipelines.grounding import check

FIXTURES = Path(__file__).parents[1] / "fixtures"
PLOT = ["import numpy as np", "import matplotlib.pyplot as plt"]


def described(sandbox, code: str):
    """The model-free caption of what `code` draws, and its grounding check."""
    facts = facts_from_trace(sandbox.run(code, trace=True).trace)
    caption = describe(facts, np.random.default_rng(0))
    return caption, check(caption, facts, code)


def test_diversity_captions_describe_and_are_fully_grounded():
    """The 30 model-free variations of solid-geometry programs in the grounding fixture, as
    the demo's diversity rows are made."""
    records = json.loads(gzip.decompress((FIXTURES / "grounding" / "records.json.gz").read_bytes()))
    words, inside = [], 0
    for rec in (r for r in records if r["kind"] == "diversity"):
        facts = facts_from_trace(rec["trace"])
        caption = describe(facts, np.random.default_rng(0))
        found = check(caption, facts, rec["code"])
        assert found.claims >= 5 and found.ungrounded == [], caption
        words.append(len(caption.split()))
        inside += " lies inside " in caption  # a net's labels in its squares, a vertex in a face
    assert len(words) == 30 and np.median(words) >= 60 and inside >= 5


@pytest.mark.parametrize("name, says", [
    ("bar_rainfall", ["bar chart", "the tallest bar is 'Jan'", "the shortest bar is 'Jun'",
                      "spans 0 to 90", "heights are falling"]),
    ("damped_oscillation", ["line plot", "The curve 'x(t)', drawn in blue, oscillates and decays",
                            "maximum of 1 at x = 0", "'first peak' at (0.8, 0.85)", "2 dashed"]),
    ("reaction_kinetics", ["rises", "falls"]),
])
def test_a_chart_is_described_by_its_data(unit_sandbox, name, says):
    caption, found = described(unit_sandbox, (FIXTURES / "programs" / f"{name}.py").read_text())
    assert all(s in caption for s in says), caption
    assert found.ungrounded == [] and found.claims >= 15


def test_what_the_image_does_not_show_is_not_quoted(unit_sandbox):
    """A line's label with no legend to draw it is not in the image, and a two-line text is
    quoted on one line: otherwise its line break shifts every later quotation."""
    caption, found = described(unit_sandbox, "\n".join(PLOT + [
        "x = np.linspace(0, 6, 60)",
        "plt.plot(x, np.sin(x), color='tab:blue', label='15°')",
        "plt.plot(x, -np.cos(x), color='tab:red', label='30°')",
        "plt.text(1, 0.5, 'Given: r = 4\\nFind: the area')",
        "plt.text(4, -0.5, 'B')",
    ]))
    assert "'15°'" not in caption and "The second curve, drawn in red" in caption, caption
    assert "'Given: r = 4 Find: the area', 'B'" in caption, caption
    assert found.ungrounded == [] and found.claims >= 10, (caption, found)


def test_named_curves_that_cross_are_said_to(unit_sandbox):
    caption, found = described(unit_sandbox, "\n".join(PLOT + [
        "x = np.linspace(0, 4, 200)",
        "plt.plot(x, x ** 2, color='tab:blue', label='x²')",
        "plt.plot(x, 2 * x + 1, color='tab:red', label='2x + 1')",
        "plt.legend()",
    ]))
    assert "'x²' and '2x + 1' cross at (2.41, 5.83)." in caption, caption  # x = 1 + √2
    assert found.ungrounded == [] and found.claims >= 15, (caption, found)
