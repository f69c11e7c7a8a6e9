"""Solid Geometry Synthesis as a pipeline: template θ -> program + exact caption -> realise."""

from __future__ import annotations

import numpy as np

from iccgen.errors import ConfigError
from iccgen.unit import Outcome, Pipeline, UnitContext
from pipelines.solid import FAMILIES, generate
from pipelines.steps import realise


class SolidPipeline(Pipeline):
    name = "solid"

    def __init__(self, job):
        super().__init__(job)
        mix = job.solid.mix or {name: 1.0 for name in FAMILIES}
        missing = sorted(f for f, w in mix.items() if w > 0 and f not in FAMILIES)
        if missing:
            raise ConfigError(
                f"solid.mix: families {missing} are not implemented yet; "
                f"available: {sorted(FAMILIES)}"
            )
        chosen = sorted(f for f, w in mix.items() if w > 0)
        total = sum(mix[f] for f in chosen)
        self.families = chosen
        self.weights = [mix[f] / total for f in chosen]

    def draw(self, ctx: UnitContext, item: int, attempt: int) -> tuple[str, np.random.Generator]:
        """The item's family and the candidate's random stream for θ.

        The family is the first attempt's, and a redraw samples θ again within it: some families'
        figures collide more often than others', and choosing anew would shift the configured
        mix toward the ones that collide less."""
        rng = ctx.rng(item, attempt)
        family = str(rng.choice(self.families, p=self.weights))
        if attempt:
            family = str(ctx.rng(item, 0).choice(self.families, p=self.weights))
        return family, rng

    async def attempt(self, ctx: UnitContext, item: int, attempt: int) -> Outcome:
        family, rng = self.draw(ctx, item, attempt)
        sample = generate(family, rng, ctx.job.solid.difficulty)
        return await realise(
            ctx,
            item=item,
            attempt=attempt,
            code=sample.code,
            caption=sample.caption,
            family=sample.family,
            template=sample.template,
            params=sample.params,
            question=sample.question,
            answer=sample.answer,
        )
