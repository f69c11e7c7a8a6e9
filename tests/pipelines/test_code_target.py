"""The explanatory image-to-code target: from the program's structure, and from a model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from model_server import Request, reply, run_and_close

from iccgen.unit import Kept
from pipelines import code_target, prompts
from pipelines.code_target import from_program, prose, splice
from pipelines.solid import generate
from pipelines.steps import realise

PROGRAMS = Path(__file__).parents[1] / "fixtures" / "programs"
PROGRAM = """import matplotlib.pyplot as plt
N = 8  # cells per side of the board
fig, ax = plt.subplots(figsize=(4, 4))
for i in range(N + 1):
    ax.plot([0, N], [i, i], color="black")
    ax.plot([i, i], [0, N], color="black")
ax.set_aspect("equal")
ax.axis("off")
plt.show()
"""
CAPTION = "A square board of 8 by 8 cells drawn with black lines."


@pytest.mark.parametrize("path", sorted(PROGRAMS.glob("*.py")), ids=lambda p: p.stem)
def test_every_fixture_program_gets_the_four_part_layout(path):
    code = path.read_text()
    target = from_program("What the figure shows.", code)
    assert target.startswith("What the figure shows.\n\nSteps:\n1. ")
    assert f"```python\n{code.rstrip()}\n```" in target  # the program, verbatim
    assert "Usage notes:\n- Needs Python with" in target and "matplotlib" in target
    assert "Draw the" in target and "`plt.show()`" in target


def test_a_solid_program_explains_its_parameter_block_and_helpers():
    sample = generate("polyhedron", np.random.default_rng(3))
    target = from_program(sample.caption, sample.code)
    assert "Set the parameters in one block at the top" in target
    assert "`HIDDEN` (dash pattern of hidden edges)" in target
    assert "Define `edge_visibility(verts, faces, toward)`: Map each edge to True" in target
    assert "Draw the text labels with `ax.text`" in target
    assert "change `ANGLE`, `P`, `TOWARD`" in target


def test_splice_puts_the_ground_truth_in_place_of_the_models_program():
    answer = "<think>plan</think>Shows a grid.\n\n1. Loop.\n\n```python\nprint('guess')\n```\n\nNotes."
    assert splice(answer, PROGRAM) == (
        f"Shows a grid.\n\n1. Loop.\n\n```python\n{PROGRAM.rstrip()}\n```\n\nNotes.\n")
    assert splice("No code here.", PROGRAM).endswith(f"```python\n{PROGRAM.rstrip()}\n```\n")
    assert "print(" not in prose(splice(answer, PROGRAM)) and "1." not in prose("1. Loop.")
    assert "N" not in prose("Set `N = 8` to change the board.")


class Explainer:
    """Explains from the image with the miscount of the paper's Fig. 2, then against the code."""

    def __init__(self, rewrite: str):
        self.rewrite = rewrite
        self.asked: list[str] = []

    def __call__(self, request: Request):
        if "Ground-truth program:" in request.text:
            self.asked.append("rewrite")
            assert "a 6 by 6 board" in request.text and "N = 8" in request.text
            assert not request.images
            return reply(self.rewrite)
        assert "explained for a student" in request.text and request.images
        self.asked.append("draft")
        return reply("The image shows a 6 by 6 board.\n\n1. Draw 7 lines each way.\n\n"
                     "```python\nimport matplotlib.pyplot as plt\nplt.show()\n```\n")


@pytest.fixture
def write(unit_context):
    def run(script: Explainer, with_model: bool = True):
        ctx = unit_context("reproduce", script)
        targets = prompts.load("targets", "v1", code_target.NAMES) if with_model else None
        outcome = run_and_close(realise(ctx, item=0, attempt=0, code=PROGRAM, caption=CAPTION,
                                        explain_with=targets), ctx.model)
        assert isinstance(outcome, Kept)
        return outcome.triplet
    return run


def test_the_model_rewrites_its_explanation_around_the_real_program(write):
    script = Explainer("The image shows an 8 by 8 board.\n\n1. Draw the 18 black lines with "
                       "`ax.plot`.\n\n```python\nprint('a wrong copy')\n```\n\nUsage notes: set `N`.")
    row = write(script)
    assert script.asked == ["draft", "rewrite"]
    assert row.code_target.startswith("The image shows an 8 by 8 board.")
    assert f"```python\n{PROGRAM.rstrip()}\n```" in row.code_target and "wrong copy" not in row.code_target
    assert row.qc["code_target"]["source"] == "model"
    assert row.qc["code_target"]["grounding"]["score"] == 1.0


def test_an_explanation_the_program_contradicts_is_dropped_not_stored(write):
    row = write(Explainer("The image shows a 6 by 6 board.\n\n1. Draw 7 lines each way.\n"))
    assert row.code_target is None
    assert row.qc["code_target"]["dropped"].startswith("ungrounded: ")
    assert row.caption == CAPTION  # the row itself is kept


def test_without_a_model_the_target_comes_from_the_program(write):
    row = write(Explainer("unused"), with_model=False)
    assert row.code_target.startswith(CAPTION) and row.qc["code_target"] == {"source": "program"}
    assert "`N` (cells per side of the board)" in row.code_target


def test_code_targets_can_be_switched_off(unit_context):
    ctx = unit_context(targets={"code_targets": False})
    outcome = asyncio.run(realise(ctx, item=0, attempt=0, code=PROGRAM, caption=CAPTION))
    assert outcome.triplet.code_target is None and "code_target" not in outcome.triplet.qc


@pytest.mark.parametrize("targets, recorded", [({}, True), ({"refine_captions": False}, True),
    ({"refine_captions": False, "code_targets": False}, False)])
def test_rows_record_the_targets_prompts_only_when_they_were_asked(unit_context, targets, recorded):
    ctx = unit_context("reproduce", Explainer("The image shows an 8 by 8 board."), targets=targets)
    outcome = run_and_close(realise(ctx, item=0, attempt=0, code=PROGRAM, caption=CAPTION,
                                    explain_with=prompts.load("targets", "v1", code_target.NAMES)),
                            ctx.model)
    assert ("target_prompts" in outcome.triplet.meta) == recorded
