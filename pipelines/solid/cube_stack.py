"""Stacks of unit cubes drawn in parallel projection, with a counting question."""
from __future__ import annotations

import numpy as np

from pipelines.solid import kernels, projection, voxels
from pipelines.solid.base import SolidSample, phrase
from pipelines.solid.program import program

RULE = "Every cube rests on the floor or on another cube, and the top of every column can be seen."


class CubeStack:
    name = "cube_stack"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        view = projection.sample_view(rng)
        heights = voxels.sample_heights(rng, difficulty, view)
        ask = "fill" if difficulty == 3 and rng.random() < 0.5 else "count"
        return {"heights": heights, "view": view, "question": ask, "style": int(rng.integers(1000))}

    def build(self, p: dict) -> SolidSample:
        heights, view = p["heights"], p["view"]
        n = voxels.total(heights)
        rows, cols = len(heights), len(heights[0])
        box = rows * cols * max(map(max, heights))
        code = program(
            f"{n} unit cubes stacked on a {cols} x {rows} floor grid, painted back to front.",
            "\n\n".join([
                "# HEIGHTS[row][col]: cubes stacked on floor cell (col, row); row 0 is the front row\n"
                + voxels.literal(heights),
                "CUBES = [(x, y, z) for y, row in enumerate(HEIGHTS) for x, h in enumerate(row) for z in range(h)]",
                projection.source(view).rstrip(),
            ]),
            (kernels.draw_grid, kernels.draw_cubes),
            """
            fig, ax = plt.subplots(figsize=(6, 6))
            draw_grid(ax, len(HEIGHTS[0]), len(HEIGHTS), P)
            draw_cubes(ax, CUBES, P, TOWARD)
            ax.autoscale()
            ax.set_aspect("equal")
            ax.axis("off")
            """,
        )
        caption = " ".join([
            phrase(p, [
                f"{voxels.summary(heights)}, drawn {projection.describe(view)}.",
                f"A solid built from {n} unit cubes on a {cols} × {rows} floor grid, shown {projection.describe(view)}.",
                f"The picture shows {n} identical unit cubes stacked in columns on a {cols} × {rows} grid, drawn {projection.describe(view)}.",
            ]),
            f"Column heights by row — {voxels.rows_text(heights)}.",
            "Top faces are light grey, front faces white and side faces darker grey; thin grey lines mark the floor cells.",
        ])
        if p["question"] == "fill":
            question = (f"{RULE} How many more unit cubes are needed to complete the smallest cuboid "
                        "that contains the solid?")
            answer = str(box - n)
        else:
            question = RULE + " " + phrase(p, ["How many unit cubes make up the solid?",
                                               "How many cubes are there in total?"])
            answer = str(n)
        return SolidSample(self.name, f"cube_stack/{p['question']}", p, code, caption, question, answer)
