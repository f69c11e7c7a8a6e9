"""Orthographic three-views of a unit-cube solid in first- or third-angle layout, hidden lines dashed."""
from __future__ import annotations

import textwrap

import numpy as np

from pipelines.solid import kernels, projection, voxels
from pipelines.solid.base import SolidSample, choose, join_words, phrase
from pipelines.solid.program import program

VIEW_AXES = {  # title -> how VOX[x, y, z] is rearranged to [right, away from viewer, up]
    "Front view": "VOX",
    "Left view": "VOX.transpose(1, 0, 2)[::-1]",
    "Right view": "VOX.transpose(1, 0, 2)[:, ::-1]",
    "Top view": "VOX[:, :, ::-1].transpose(0, 2, 1)",
}
# the two drawing conventions: (row, column) of each view's panel, and of the solid's picture
LAYOUTS = {
    "first-angle": ({"Front view": (0, 0), "Left view": (0, 1), "Top view": (1, 0)}, (1, 1)),
    "third-angle": ({"Top view": (0, 0), "Front view": (1, 0), "Right view": (1, 1)}, (0, 1)),
}
LAYOUT_WORDS = {
    "first-angle": "The front view is at the top left, the left view (seen from the left, placed to its right) "
                   "at the top right and the top view below the front view",
    "third-angle": "The views follow third-angle projection: the front view is at the bottom left, the top view "
                   "above it and the right view (seen from the right) to its right",
}


def voxel_array(heights: list[list[int]]) -> np.ndarray:
    h = np.array(heights)
    return np.arange(h.max()) < h.T[:, :, None]


def view_arrays(heights: list[list[int]], layout: str = "first-angle") -> dict[str, np.ndarray]:
    scope = {"VOX": voxel_array(heights)}
    return {title: eval(VIEW_AXES[title], scope) for title in LAYOUTS[layout][0]}  # noqa: S307 - own text


class ThreeView:
    name = "three_view"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        view = projection.sample_view(rng, ("ortho",))
        heights = voxels.sample_heights(rng, difficulty, view)
        return {"heights": heights, "view": view, "variant": choose(rng, ["solid", "numbered"]),
                "layout": choose(rng, list(LAYOUTS)), "style": int(rng.integers(1000)),
                # views on squared paper, one square per cube face, as exam papers print them
                "paper": choose(rng, ["plain", "squared"])}

    def build(self, p: dict) -> SolidSample:
        heights = p["heights"]
        numbered = p["variant"] == "numbered"
        lines = {t: [kernels.merge(s) for s in kernels.view_lines(v)]
                 for t, v in view_arrays(heights, p["layout"]).items()}
        code = program(_doc(p), _setup(p), _funcs(numbered), _body(p, numbered))
        caption, question, answer = _text(p, lines)
        return SolidSample(self.name, f"three_view/{p['variant']}", p, code, caption, question, answer)


def _doc(p: dict) -> str:
    extra = "the top view numbered with column heights" if p["variant"] == "numbered" else "and the solid itself"
    return f"Three orthographic views of a solid of {voxels.total(p['heights'])} unit cubes, {extra}."


def _setup(p: dict) -> str:
    panels, solid = LAYOUTS[p["layout"]]
    views = "\n".join(f'    "{t}": {VIEW_AXES[t]},' for t in panels)
    h = p["heights"]
    span = max(len(h), len(h[0]), max(map(max, h)))
    parts = [
        "# HEIGHTS[row][col]: cubes stacked on floor cell (col, row); row 0 is the front row\n"
        + voxels.literal(h),
        "H = np.array(HEIGHTS)\nVOX = np.arange(H.max()) < H.T[:, :, None]  # VOX[x, y, z]: is there a cube?",
        "# Each view sees VOX rearranged as [right, away from the viewer, up]; a side view looks\n"
        f"# from its side, so the front of the solid is toward the other side.\nVIEWS = {{\n{views}\n}}",
        f"PANELS = {panels}  # {p['layout']} projection: (row, column) of each view\n"
        f"PICTURE = {solid}  # the panel left for the solid itself",
        f"HIDDEN = (0, (4, 3))  # dash pattern of hidden lines\nLIMITS = (-0.6, {span + 0.6})  # same scale in every view, so the views line up\n"
        f"SQUARES = {span if p.get('paper') == 'squared' else 0}  # squared paper of this many unit squares a side (0: none)",
    ]
    if p["variant"] == "solid":
        parts.append(projection.source(p["view"]).rstrip())
    return "\n\n".join(parts)


def _funcs(numbered: bool) -> tuple:
    base = (kernels.view_lines, kernels.merge)
    return base if numbered else base + (kernels.draw_cubes,)


def _body(p: dict, numbered: bool) -> str:
    body = '''
        fig, axs = plt.subplots(2, 2, figsize=(7, 7))
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.95, wspace=0.05, hspace=0.12)
        for title, vox in VIEWS.items():
            ax = axs[PANELS[title]]
            visible, hidden = view_lines(vox)
            if SQUARES:  # the squared paper under the view
                ax.vlines(range(SQUARES + 1), 0, SQUARES, color="0.75", lw=0.7, zorder=0)
                ax.hlines(range(SQUARES + 1), 0, SQUARES, color="0.75", lw=0.7, zorder=0)
            for style, segments in (("-", visible), (HIDDEN, hidden)):
                for (u0, v0), (u1, v1) in merge(segments):
                    ax.plot([u0, u1], [v0, v1], color="k", lw=1.6, ls=style)
            ax.set_title(title, fontsize=13)
            ax.set_xlim(LIMITS)
            ax.set_ylim(LIMITS)
        '''
    if numbered:
        body += '''
        for y, row in enumerate(HEIGHTS):  # the number of cubes in each column, on the top view
            for x, h in enumerate(row):
                if h:
                    axs[PANELS["Top view"]].text(x + 0.5, y + 0.5, str(h), fontsize=14, ha="center", va="center")
        '''
    else:
        body += '''
        CUBES = [(x, y, z) for y, row in enumerate(HEIGHTS) for x, h in enumerate(row) for z in range(h)]
        draw_cubes(axs[PICTURE], CUBES, P, TOWARD)
        axs[PICTURE].autoscale()
        '''
    body += '''
        for ax in axs.flat:
            ax.set_aspect("equal")
            ax.axis("off")
        '''
    return "\n".join(textwrap.dedent(b).strip() for b in body.split("\n\n") if b.strip())


def _text(p: dict, lines: dict) -> tuple[str, str, str]:
    heights = p["heights"]
    n = voxels.total(heights)
    rows, cols, tall = len(heights), len(heights[0]), max(map(max, heights))
    sizes = {"Front view": (cols, tall), "Left view": (rows, tall), "Right view": (rows, tall),
             "Top view": (cols, rows)}
    per_view = []
    for title, (visible, hidden) in lines.items():
        w, h = sizes[title]
        dashed = f"{len(hidden)} dashed hidden line{'s' if len(hidden) != 1 else ''}" if hidden else "no hidden lines"
        per_view.append(f"the {title.lower()} is {w} units wide and {h} high with {len(visible)} solid and {dashed}")
    layout = LAYOUT_WORDS[p["layout"]]
    if p.get("paper") == "squared":
        span = max(rows, cols, tall)
        layout += (f"; each view is drawn on squared paper, {span} by {span} grey unit squares, "
                   "so a cube's face fills one square")
    names = [title.split()[0].lower() for title in LAYOUTS[p["layout"]][0]]
    if p["variant"] == "numbered":
        layout += "; each cell of the top view carries the number of cubes stacked there."
    else:
        corner = "bottom right" if LAYOUTS[p["layout"]][1] == (1, 1) else "top right"
        layout += f"; the solid itself is drawn at the {corner} {projection.describe(p['view'])}."
    caption = " ".join([
        phrase(p, [
            f"Three-view drawing of a solid made of {n} unit cubes on a {cols} × {rows} base.",
            f"Orthographic {join_words(names)} views of {n} unit cubes stacked in columns on a {cols} × {rows} base.",
        ]),
        layout,
        f"Column heights by row — {voxels.rows_text(heights)}.",
        phrase(p, ["In the views, ", "Reading the views: "], "style") + join_words(per_view) + ".",
    ])
    dashed_views = [t for t, (_, hid) in lines.items() if hid]
    if p["variant"] == "numbered" or not dashed_views:
        return caption, "How many unit cubes make up the solid?", str(n)
    title = dashed_views[p["style"] % len(dashed_views)]
    return caption, f"How many dashed (hidden) lines are drawn in the {title.lower()}?", str(len(lines[title][1]))
