"""Solid Geometry Synthesis: hand-written templates θ ∈ Θ that emit standalone matplotlib programs.

`generate(family, rng, difficulty)` samples θ from the family's space and builds the program, its
exact caption and, where the family has one, a question with its answer.
"""
from __future__ import annotations

import numpy as np

from pipelines.solid.base import Family, SolidSample
from pipelines.solid.cube_net import CubeNet
from pipelines.solid.combined_solid import CombinedSolid
from pipelines.solid.cross_section import CrossSection
from pipelines.solid.cube_stack import CubeStack
from pipelines.solid.polyhedron import Polyhedron
from pipelines.solid.spatial_curve import SpatialCurve
from pipelines.solid.surface_integral import SurfaceIntegral
from pipelines.solid.three_view import ThreeView

FAMILIES: dict[str, Family] = {f.name: f for f in (CubeNet(), ThreeView(), CubeStack(), Polyhedron(), CrossSection(),
                                         SpatialCurve(), SurfaceIntegral(), CombinedSolid())}


def generate(family: str, rng: np.random.Generator, difficulty: int = 1) -> SolidSample:
    if family not in FAMILIES:
        raise KeyError(f"unknown solid-geometry family {family!r}; known: {sorted(FAMILIES)}")
    fam = FAMILIES[family]
    return fam.build(fam.sample(rng, difficulty))


__all__ = ["FAMILIES", "Family", "SolidSample", "generate"]
