"""Code-grounded captions with a model: draft -> analysis -> refine, against the scripted server."""

from __future__ import annotations


import pytest
from model_server import Request, reply, run_and_close

from pipelines import grounded_caption, prompts
from pipelines.facts import facts_from_trace
from pipelines.grounded_caption import LOG_CHARS, execution_log, refine_caption

# Seven bars: the draft (written "from the image") miscounts them as five.
PROGRAM = """import matplotlib.pyplot as plt
heights = [3, 5, 2, 6, 4, 7, 1]
fig, ax = plt.subplots()
ax.bar(range(7), heights, color="tab:blue")
ax.set_title("Weekly rainfall")
plt.show()
"""
DRAFT = "A bar chart titled 'Weekly rainfall' with 5 blue bars."


class Refiner:
    """Answers the analysis prompt with the bar count, and refine with a scripted correction."""

    def __init__(self, refined: str):
        self.refined = refined
        self.asked: list[str] = []

    def __call__(self, request: Request):
        if "Execution log (JSON):" in request.text:
            self.asked.append("analysis")
            assert "heights = [3, 5, 2, 6, 4, 7, 1]" in request.text and '"patches"' in request.text
            return reply("- 7 bars are drawn, all blue.\n- The title is 'Weekly rainfall'.")
        assert "Verified facts:\n- 7 bars are drawn" in request.text and DRAFT in request.text
        self.asked.append("refine")
        return reply(self.refined)


@pytest.fixture
def refine(unit_context):
    def run(script: Refiner, draft: str = DRAFT) -> grounded_caption.GroundedCaption:
        ctx = unit_context("reproduce", script)
        trace = ctx.sandbox.run(PROGRAM, trace=True).trace
        found = run_and_close(refine_caption(
            ctx, prompts.load("targets", "v1", grounded_caption.NAMES), draft, PROGRAM, trace,
            facts_from_trace(trace)), ctx.model)
        assert ctx.stats.usage["requests"] == 2  # the calls are charged to the unit
        return found
    return run


def test_refine_corrects_a_miscount_with_a_minimal_edit(refine):
    script = Refiner("A bar chart titled 'Weekly rainfall' with 7 blue bars.")
    found = refine(script)
    assert script.asked == ["analysis", "refine"]
    assert found.chosen == "refined" and found.caption.endswith("with 7 blue bars.")
    assert found.draft_score < 1.0 and found.refined_score == 1.0
    record = found.to_dict()
    assert record["draft"] == DRAFT and "7 bars" in record["analysis"]
    assert record["similarity_to_draft"] > 0.9
    assert found.grounding.score == found.refined_score  # handed on to realise


class Inventor(Refiner):
    """A refine step that invents a count, or answers with something that is no caption."""

    def __call__(self, request: Request):
        if "Execution log (JSON):" in request.text:
            return reply("- 7 bars are drawn, all blue.")
        return reply(self.refined)


def test_a_refine_that_invents_keeps_the_better_draft(refine):
    draft = "A bar chart titled 'Weekly rainfall' in blue, for each day of the week."
    found = refine(Inventor("A bar chart titled 'Weekly rainfall' with 9 blue bars, for each day of the week."), draft=draft)
    assert found.chosen == "draft" and found.caption == draft and found.draft_score == 1.0
    assert found.to_dict()["refine_passed_over"].startswith("less grounded")


GOOD_DRAFT = ("A bar chart titled 'Weekly rainfall' with 7 blue bars, one for each day of the week, "
              "their heights the rain that fell on that day.")


@pytest.mark.parametrize("refined, why", [
    ("I need the image to answer.", "a refusal"),
    ("Sorry, as an AI I cannot see pictures; please provide a description of the chart.", "a refusal"),
    ("", "empty answer"),
    ("Here:\n```python\nimport matplotlib.pyplot as plt\nplt.bar(range(7), rain)\n```", "a program"),
    ("import numpy as np\nimport matplotlib.pyplot as plt\nplt.title('Weekly rainfall')", "a program"),
    ("   \n ", "empty answer"),
    ("Quarterly earnings of the company rose sharply as investors returned to equity markets.", "off topic"),
    ("Weekly rainfall bars.", "a one-liner"),
    # Grounded, and the old rule (score at least the draft's) would have taken it.
    ("A bar chart titled 'Weekly rainfall', showing how much rain fell on every day.", "says less"),
    ("A bar chart titled 'Weekly rainfall' with 7 blue bars.", "says less"),
])
def test_a_refine_that_is_no_caption_or_says_less_is_passed_over(refine, refined, why):
    found = refine(Inventor(refined), draft=GOOD_DRAFT)
    assert found.chosen == "draft" and found.caption == GOOD_DRAFT
    assert found.to_dict()["refine_passed_over"].startswith(why)
    assert found.grounding.claims == 3 and found.grounding.score == 1.0


def test_the_execution_log_is_bounded_and_leaves_the_image_out():
    trace = {"image": {"width": 600}, "summary": {}, "texts": [{"text": "x" * 50}] * 1000}
    log = execution_log(trace)
    assert len(log) < LOG_CHARS + 100 and log.endswith("more characters]")
    assert '"image"' not in log and '"summary"' not in log
    assert execution_log({"texts": []}) == '{"texts":[]}'
