"""Parallel projections used by the 3-D families, as emitted source plus words for the caption.

A view is a dict (part of θ): {"kind": "oblique", "angle": deg} for a cabinet projection (depth
axis drawn at `angle`, half length), or {"kind": "ortho", "azim": deg, "elev": deg}. The 2x3
matrix P maps (x, y, z) to the page; x points right, y away from the viewer, z up.
"""
from __future__ import annotations

import numpy as np

from pipelines.solid.base import choose
from pipelines.solid.program import evaluate


def sample_view(rng: np.random.Generator, kinds: tuple[str, ...] = ("oblique", "ortho")) -> dict:
    if choose(rng, list(kinds)) == "oblique":
        return {"kind": "oblique", "angle": choose(rng, list(range(30, 65, 5)) + list(range(120, 155, 5)))}
    return {"kind": "ortho", "azim": choose(rng, list(range(-45, -15, 5)) + list(range(20, 50, 5))),
            "elev": choose(rng, list(range(15, 40, 5)))}


def source(view: dict) -> str:
    """The parameter lines defining P (and the direction TOWARD the viewer) in the program."""
    if view["kind"] == "oblique":
        a = view["angle"]
        return (
            f"# Oblique (cabinet) projection: the depth axis y is drawn at {a} degrees, half length.\n"
            f"ANGLE = np.radians({a})\n"
            "P = np.array([[1, 0.5 * np.cos(ANGLE), 0],\n"
            "              [0, 0.5 * np.sin(ANGLE), 1]])\n"
            "TOWARD = np.cross(P[0], P[1])  # points from the solid toward the viewer\n"
        )
    return (
        f"# Orthographic view: azimuth {view['azim']} degrees, elevation {view['elev']} degrees.\n"
        f"AZIM, ELEV = np.radians({view['azim']}), np.radians({view['elev']})\n"
        "P = np.array([[np.cos(AZIM), np.sin(AZIM), 0],\n"
        "              [-np.sin(ELEV) * np.sin(AZIM), np.sin(ELEV) * np.cos(AZIM), np.cos(ELEV)]])\n"
        "TOWARD = np.cross(P[0], P[1])  # points from the solid toward the viewer\n"
    )


def matrix(view: dict) -> np.ndarray:
    return evaluate(source(view), "P")


def toward(view: dict) -> np.ndarray:
    return evaluate(source(view), "TOWARD")


def describe(view: dict) -> str:
    """Where the viewer stands, in words: 'from the front-right, above'."""
    t = toward(view)
    side = "right" if t[0] > 1e-9 else "left"
    where = f"from the front-{side}, above"
    if view["kind"] == "oblique":
        return (f"in oblique (cabinet) projection, seen {where}, with receding edges drawn at "
                f"{view['angle'] if view['angle'] < 90 else 180 - view['angle']}° and half length")
    return f"in orthographic projection, seen {where} (elevation {view['elev']}°)"
