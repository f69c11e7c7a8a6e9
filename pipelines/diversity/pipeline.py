"""Image Diversity: K new programs from each kept one (paper §3.1, Eq. 3).

The CPU default is the model-free AST mutator: each variation rewrites constants, data, styles
and layout of its parent, runs in the sandbox, and gets a caption built from its own trace.
"""

from __future__ import annotations

from iccgen.errors import ConfigError
from iccgen.store import ShardStore
from iccgen.unit import Outcome, Pipeline, Rejected, UnitContext, UnitSpec
from pipelines.captions import describe
from pipelines.diversity.mutator import MutationError, mutate
from pipelines.diversity.parents import Parent, check_source, load_parents
from pipelines.facts import facts_from_trace
from pipelines.steps import execute, realise


class DiversityPipeline(Pipeline):
    name = "diversity"

    def __init__(self, job):
        super().__init__(job)
        if job.diversity.mutator == "model":
            raise ConfigError(
                "diversity.mutator = 'model' is not available yet; use mutator = 'ast' (the default)"
            )
        check_source(job.diversity.source, job.pipelines)

    def plan(self, store: ShardStore) -> list[UnitSpec]:
        """Item g takes parent g mod P as variation g div P: siblings land in different units."""
        parents = load_parents(self.job.diversity.source, self.job.pipelines, store)
        if not parents:
            raise ConfigError("diversity: the parent pipelines kept no rows, so there is nothing to vary")
        n = min(self.job.n_for(self.name), self.job.diversity.k * len(parents))
        size = self.job.shard_size
        specs = []
        for u in range((n + size - 1) // size):
            items = range(u * size, min(n, (u + 1) * size))
            inputs = tuple((parents[g % len(parents)], g // len(parents)) for g in items)
            specs.append(UnitSpec(self.name, u, len(inputs), self.job.seed, inputs))
        return specs

    def reference_hashes(self, store: ShardStore) -> list[tuple[str, int]]:
        """Parents from another job: their images must not come back as "new" variations."""
        if self.job.diversity.source is None:
            return []  # this job's own rows are in the index already
        parents = load_parents(self.job.diversity.source, self.job.pipelines, store)
        return [(f"parent:{p.id}", p.phash) for p in parents if p.phash is not None]

    async def attempt(self, ctx: UnitContext, item: int, attempt: int) -> Outcome:
        parent: Parent
        parent, variation = ctx.spec.inputs[item]
        try:
            mutated = mutate(parent.code, ctx.rng(item, attempt), ctx.job.diversity.mutations)
        except MutationError as e:
            return Rejected("mutation_failed", str(e))
        result = await execute(ctx, mutated.code)
        if not result.ok:
            return Rejected(f"exec:{result.status.value}", result.error)
        caption = describe(facts_from_trace(result.trace or {}), ctx.rng(item, attempt))
        return await realise(
            ctx,
            item=item,
            attempt=attempt,
            variant=variation,
            code=mutated.code,
            caption=caption,
            result=result,
            parent_id=parent.id,
            source_id=parent.source_id or parent.id,
            template="ast",
            meta={"mutations": mutated.mutations, "variation": variation},
        )
