"""The explanatory image-to-code target (paper §3.3, Eq. 9; layout of Supp. B).

Training on bare programs teaches a model to emit code; the paper trains on an explanation around
the ground-truth program instead: what the image shows, numbered steps mapping visual elements to
matplotlib calls, the full program, usage notes. Two writers share that layout:

- with a model: it explains the image as if writing the program itself (a draft with good
  teaching structure but wrong numbers), then rewrites the prose to explain the real program;
  the real program is spliced in verbatim, never trusted to the model's copy;
- without a model: the prose comes from the row's grounded caption and the program's own
  structure (its parameter block, helpers and drawing calls), so it states nothing the program
  does not.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Any

from iccgen.errors import ModelRequestError
from iccgen.unit import UnitContext
from pipelines import grounding
from pipelines.codeblock import without_thinking
from pipelines.facts import Facts
from pipelines.model_steps import ask
from pipelines.prompts import Prompts

NAMES = ("explain", "explain_refine")
_FENCE = re.compile(r"^[ \t]*```[ \t]*(?:python3?|py)?[ \t]*\n.*?^[ \t]*```[ \t]*$", re.M | re.S | re.I)
_STEP_NUMBER = re.compile(r"^[ \t]*\d+[.)][ \t]", re.M)
_INLINE_CODE = re.compile(r"`[^`\n]+`")

# Which visual element a call draws, named for a student; first match in call order wins.
ELEMENTS = {
    "plot": "lines and curves", "plot3D": "lines and curves", "step": "step lines",
    "scatter": "points", "bar": "bars", "barh": "bars", "hist": "histogram bars",
    "fill": "filled regions", "fill_between": "filled regions", "add_patch": "shapes (patches)",
    "add_collection": "groups of shapes", "add_collection3d": "faces of the solid",
    "plot_surface": "surfaces", "plot_wireframe": "wire meshes", "plot_trisurf": "surfaces",
    "contour": "contour lines", "contourf": "filled contours", "imshow": "an image grid",
    "pcolormesh": "a colour grid", "quiver": "arrows of a vector field", "streamplot": "streamlines",
    "arrow": "arrows", "annotate": "arrows and annotations", "text": "text labels",
    "errorbar": "error bars", "pie": "pie wedges", "axhline": "reference lines",
    "axvline": "reference lines", "legend": "the legend", "colorbar": "the colour bar",
}
FINISHING = {"set_xlim", "set_ylim", "set_zlim", "set_aspect", "axis", "set_axis_off", "view_init",
             "set_title", "set_xlabel", "set_ylabel", "set_zlabel", "grid", "set_xticks",
             "set_yticks", "set_box_aspect", "tight_layout", "suptitle", "set_xscale", "set_yscale"}
FIGURE = {"figure", "subplots", "add_axes", "add_subplot", "subplot"}


def layout(paragraph: str, steps: list[str], code: str, notes: list[str]) -> str:
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    bullets = "\n".join(f"- {n}" for n in notes)
    return (f"{paragraph.strip()}\n\nSteps:\n{numbered}\n\n```python\n{code.rstrip()}\n```\n\n"
            f"Usage notes:\n{bullets}\n")


def splice(answer: str, code: str) -> str:
    """The answer with its program replaced by `code` (appended where it wrote none)."""
    text = without_thinking(answer)
    block = f"```python\n{code.rstrip()}\n```"
    if _FENCE.search(text):
        return _FENCE.sub(lambda _: block, text, count=1).strip() + "\n"
    return f"{text}\n\n{block}\n"


def prose(target: str) -> str:
    """What a grounding check reads: the target without its code (blocks and `spans`, which
    name the program's identifiers) and without step numbers."""
    return _STEP_NUMBER.sub(" ", _INLINE_CODE.sub(" ", _FENCE.sub(" ", target)))


async def from_model(ctx: UnitContext, prompts: Prompts, code: str, png: bytes) -> str:
    """Explain from the image alone, then re-explain against the ground truth (Eq. 9)."""
    draft = (await ask(ctx, prompts.render("explain"), png)).text
    asked = prompts.render("explain_refine", draft=without_thinking(draft), code=code.rstrip("\n"))
    return splice((await ask(ctx, asked)).text, code)


async def write(
    ctx: UnitContext, prompts: Prompts | None, caption: str, code: str, png: bytes, facts: Facts,
    params: dict[str, Any] | None,
) -> tuple[str | None, dict[str, Any]]:
    """The row's code target and how it was made; `prompts` given means the model writes it."""
    if prompts is None:
        return from_program(caption, code), {"source": "program"}
    try:
        target = await from_model(ctx, prompts, code, png)
    except ModelRequestError as e:
        return None, {"source": "model", "dropped": f"model refused: {e}"[:500]}
    return checked(target, "model", facts, code, params, ctx.job.qc.min_grounding)


def checked(target: str, source: str, facts: Facts, code: str, params: dict[str, Any] | None,
            min_grounding: float) -> tuple[str | None, dict[str, Any]]:
    """Keep a target only as grounded as the captions are required to be."""
    found = grounding.check(prose(target), facts, code, params)
    info: dict[str, Any] = {"source": source, "grounding": found.to_dict()}
    if found.score is not None and found.score < min_grounding:  # prose may state no number
        info["dropped"] = "ungrounded: " + "; ".join(found.ungrounded)
        return None, info
    return target, info


def from_program(caption: str, code: str) -> str:
    """An explanation built from the caption and the program's own structure, no model."""
    tree = ast.parse(code)
    comments = _line_comments(code)
    steps = [*_parameter_step(tree, comments), *_helper_steps(tree), *_drawing_steps(tree, code)]
    return layout(caption, steps or ["Run the program: it draws the figure in one pass."], code,
                  _notes(tree))


def _line_comments(code: str) -> dict[int, str]:
    found = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT:
            found[tok.start[0]] = tok.string.lstrip("#").strip()
    return found


def _constants(tree: ast.Module) -> list[ast.Assign]:
    """Top-level assignments to UPPER_CASE names: the program's parameter block."""
    return [node for node in tree.body if isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)]


def _parameter_step(tree: ast.Module, comments: dict[int, str]) -> list[str]:
    names = []
    for node in _constants(tree):
        name = ", ".join(f"`{t.id}`" for t in node.targets if isinstance(t, ast.Name))
        why = comments.get(node.lineno) or comments.get(node.end_lineno or node.lineno)
        names.append(f"{name} ({why})" if why else name)
    if not names:
        return []
    return ["Set the parameters in one block at the top, so that each is changed in one place: "
            + "; ".join(names) + "."]


def _helper_steps(tree: ast.Module) -> list[str]:
    steps = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name != "main":
            args = ", ".join(a.arg for a in node.args.args)
            doc = (ast.get_docstring(node) or "").split("\n")[0].strip()
            steps.append(f"Define `{node.name}({args})`" + (f": {doc}" if doc else "."))
    return steps


def _calls(tree: ast.Module) -> list[tuple[str, str]]:
    """(method name, how the program spells the callee) of every call, in source order."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                found.append((node.lineno, node.col_offset, f.attr, ast.unparse(f)))
            elif isinstance(f, ast.Name):
                found.append((node.lineno, node.col_offset, f.id, f.id))
    return [(name, spelled) for _, _, name, spelled in sorted(found)]


def _drawing_steps(tree: ast.Module, code: str) -> list[str]:
    calls = _calls(tree)
    steps = []
    figure = [spelled for name, spelled in calls if name in FIGURE]
    if figure:
        steps.append(f"Create the figure and its axes with {_listed(figure)}.")
    drawn: dict[str, list[str]] = {}
    for name, spelled in calls:
        if name in ELEMENTS:
            drawn.setdefault(ELEMENTS[name], [])
            if spelled not in drawn[ELEMENTS[name]]:
                drawn[ELEMENTS[name]].append(spelled)
    steps += [f"Draw the {element} with {_listed(spelled)}." for element, spelled in drawn.items()]
    finishing = [spelled for name, spelled in calls if name in FINISHING]
    if finishing:
        steps.append(f"Finish the axes (limits, aspect, labels, view) with {_listed(finishing)}.")
    if any(name == "show" for name, _ in calls):
        steps.append("Show the figure with `plt.show()`.")
    return steps


def _listed(spelled: list[str]) -> str:
    unique = list(dict.fromkeys(spelled))
    return ", ".join(f"`{s}`" for s in unique)


def _notes(tree: ast.Module) -> list[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    notes = [f"Needs Python with {', '.join(sorted(modules))}." if modules else "Needs only Python."]
    names = [t.id for node in _constants(tree) for t in node.targets if isinstance(t, ast.Name)]
    if names:
        notes.append(f"To vary the figure, change {_listed(names)} at the top; the rest follows.")
    else:
        notes.append("To vary the figure, change the numbers passed to the drawing calls.")
    return notes
