"""Image Diversity: K new programs from each kept one (paper §3.1, Eq. 3).

Two mutators share the planning over parent programs:
- `ast` (the CPU default): each variation rewrites constants, data, styles and layout of its
  parent, runs in the sandbox, and gets a caption built from its own trace;
- `model`: a model states the parent's scientific principle, then writes each variation as a new
  program on that principle (repaired on failure); the model drafts its caption from the image
  and corrects it against the program and its trace (paper §3.2), and writes its code target.
"""

from __future__ import annotations

import asyncio
from typing import Any

from iccgen.config import JobConfig
from iccgen.errors import ConfigError, ModelRequestError
from iccgen.store import ShardStore
from iccgen.unit import Outcome, Pipeline, Rejected, UnitContext, UnitSpec
from pipelines import code_target, grounded_caption, prompts
from pipelines.captions import describe
from pipelines.diversity import inherited
from pipelines.diversity.mutator import MutationError, mutate
from pipelines.diversity.parents import Parent, check_source, load_parents
from pipelines.facts import Facts, facts_from_trace
from pipelines.model_steps import NoCode, ask, code_of, run_with_repair
from pipelines.execution import execute
from pipelines.steps import realise


class DiversityPipeline(Pipeline):
    name = "diversity"
    #: the model mutator asks for a parent's principle once per unit, so it keeps siblings together
    siblings_together = False

    def __init__(self, job: JobConfig):
        super().__init__(job)
        check_source(job.diversity.source, job.pipelines)

    def plan(self, store: ShardStore) -> list[UnitSpec]:
        """Item g is variation g div P of parent g mod P (or g mod K of parent g div K when
        siblings stay together), so a plan never depends on timing."""
        parents = load_parents(self.job.diversity.source, self.job.pipelines, store)
        if not parents:
            raise ConfigError("diversity: the parent pipelines kept no rows, so there is nothing to vary")
        k = self.job.diversity.k
        n = min(self.job.n_for(self.name), k * len(parents))
        size = self.job.shard_size
        specs = []
        for u in range((n + size - 1) // size):
            items = range(u * size, min(n, (u + 1) * size))
            inputs = tuple(self._pick(parents, g, k) for g in items)
            specs.append(UnitSpec(self.name, u, len(inputs), self.job.seed, inputs))
        return specs

    def _pick(self, parents: list[Parent], g: int, k: int) -> tuple[Parent, int]:
        if self.siblings_together:
            return parents[g // k], g % k
        return parents[g % len(parents)], g // len(parents)

    def reference_hashes(self, store: ShardStore) -> list[tuple[str, int]]:
        """Parents from another job: their images must not come back as "new" variations."""
        if self.job.diversity.source is None:
            return []  # this job's own rows are in the index already
        parents = load_parents(self.job.diversity.source, self.job.pipelines, store)
        return [(f"parent:{p.id}", p.phash) for p in parents if p.phash is not None]

    #: the targets prompts when a model writes captions and code targets
    targets: prompts.Prompts | None = None

    async def caption(self, ctx: UnitContext, item: int, attempt: int, code: str, result: Any,
                      facts: Facts) -> tuple[str, grounded_caption.GroundedCaption | None]:
        """Built from the variation's own trace facts; a model's caption comes with how it was
        made."""
        return describe(facts, ctx.rng(item, attempt)), None

    async def finish(self, ctx: UnitContext, item: int, attempt: int, parent: Parent,
                     variation: int, code: str, result: Any, meta: dict[str, Any],
                     **fields: Any) -> Outcome:
        """Caption the variation, then the shared checks."""
        if not result.ok:
            return Rejected(f"exec:{result.status.value}", result.error)
        facts = facts_from_trace(result.trace or {})
        if fields.get("params"):
            caption, grounded = await self.caption(ctx, item, attempt, code, result, facts, parent,
                                                   fields["params"])
            meta["inherited"] = "the parent's θ: the mutations kept its structure"
        else:
            caption, grounded = await self.caption(ctx, item, attempt, code, result, facts)
        if grounded is not None:
            meta["caption"] = grounded.to_dict()
        return await realise(
            ctx, item=item, attempt=attempt, variant=variation, code=code, caption=caption,
            result=result, parent_id=parent.id, source_id=parent.source_id or parent.id,
            meta=meta, explain_with=self.targets, facts=facts,
            checked=grounded.grounding if grounded else None, **fields,
        )


class AstDiversity(DiversityPipeline):
    async def attempt(self, ctx: UnitContext, item: int, attempt: int) -> Outcome:
        parent, variation = ctx.spec.inputs[item]
        try:
            mutated = mutate(parent.code, ctx.rng(item, attempt), ctx.job.diversity.mutations)
        except MutationError as e:
            return Rejected("mutation_failed", str(e))
        result = await execute(ctx, mutated.code)
        meta: dict[str, Any] = {"mutations": mutated.mutations, "variation": variation}
        fields: dict[str, Any] = {}
        if parent.params and parent.caption and inherited.kept_structure(mutated.mutations):
            fields["params"] = parent.params  # θ still determines it: the caption may say so
        return await self.finish(ctx, item, attempt, parent, variation, mutated.code, result,
                                 meta=meta, template="ast", **fields)

    async def caption(self, ctx: UnitContext, item: int, attempt: int, code: str, result: Any,
                      facts: Facts, parent: Parent | None = None,
                      params: dict[str, Any] | None = None) -> tuple[str, None]:
        """From the trace; for a solid-geometry parent whose structure the mutations kept, its
        caption's sentences that still hold come first."""
        described = describe(facts, ctx.rng(item, attempt))
        if parent is None or params is None:
            return described, None
        kept = inherited.still_determined(parent.caption or "", params, facts, code)
        return " ".join([*kept, described]), None


class ModelDiversity(DiversityPipeline):
    needs_model = True
    concurrency = 32
    journal_every_s = 0.0
    siblings_together = True

    def __init__(self, job: JobConfig):
        super().__init__(job)
        if not job.model.base_urls:
            raise ConfigError(
                "diversity.mutator = 'model' needs a model endpoint: pass --endpoint URL "
                "(start one with `iccgen serve`) or set base_url under [model]"
            )
        self.prompts = prompts.load(
            "diversity", job.diversity.prompt_version, ("principle", "variation", "repair")
        )
        self.targets = prompts.load("targets", job.targets.prompt_version,
                                    grounded_caption.NAMES + code_target.NAMES)
        self._principles: dict[str, asyncio.Task[str]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Principles are asked for within a unit, in the worker; tasks do not travel.
        return {**self.__dict__, "_principles": {}}

    async def principle(self, ctx: UnitContext, parent: Parent) -> str:
        """One request per parent and unit, shared by its sibling variations."""
        if parent.id not in self._principles:
            text = self.prompts.render("principle", code=parent.code.rstrip("\n"))
            self._principles[parent.id] = asyncio.ensure_future(ask(ctx, text))
        return (await self._principles[parent.id]).text.strip()

    async def caption(self, ctx: UnitContext, item: int, attempt: int, code: str, result: Any,
                      facts: Facts) -> tuple[str, grounded_caption.GroundedCaption | None]:
        """The model's draft from the image, corrected against the program (paper §3.2)."""
        if not ctx.job.targets.refine_captions:
            return await super().caption(ctx, item, attempt, code, result, facts)
        draft = await grounded_caption.draft_caption(ctx, self.targets, result.png)
        grounded = await grounded_caption.refine_caption(ctx, self.targets, draft, code,
                                                         result.trace or {}, facts)
        return grounded.caption, grounded

    async def attempt(self, ctx: UnitContext, item: int, attempt: int) -> Outcome:
        parent, variation = ctx.spec.inputs[item]
        try:
            principle = await self.principle(ctx, parent)
            asked = self.prompts.render("variation", principle=principle, code=parent.code.rstrip("\n"),
                                        index=str(variation + 1), count=str(ctx.job.diversity.k))
            code = code_of(await ask(ctx, asked))
            code, result, repairs = await run_with_repair(
                ctx, code, self.prompts, ctx.job.diversity.max_repairs
            )
            return await self.finish(
                ctx, item, attempt, parent, variation, code, result, template="model",
                model=ctx.job.model.model, prompt_version=self.prompts.version,
                meta={"principle": principle, "variation": variation, "repairs": repairs},
            )
        except NoCode as e:
            return Rejected("no_code", str(e))
        except ModelRequestError as e:
            return Rejected("model:refused", str(e))


def diversity_pipeline(job: JobConfig) -> DiversityPipeline:
    return ModelDiversity(job) if job.diversity.mutator == "model" else AstDiversity(job)
