"""Image Reproduce as a pipeline: seed -> caption -> code -> execute/repair -> compare ->
grounded caption -> realise.

The seed's caption, written to guide the code, is also the draft of the row's caption: the
rendering passed the similarity check, so the draft describes it up to the details that the
refine step corrects against the program (one model call fewer than drafting anew).

One item per seed. The repair loop lives inside one attempt (the model sees its own error), so
the worker's redraw loop runs once: `max_attempts() == 1`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from iccgen.config import JobConfig
from iccgen.errors import ConfigError, ModelRequestError
from iccgen.store import ShardStore
from iccgen.unit import Outcome, Pipeline, Rejected, UnitContext, UnitSpec
from pipelines import similarity
from pipelines import code_target, grounded_caption, prompts
from pipelines.facts import facts_from_trace
from pipelines.model_steps import NoCode, ask, code_of, run_with_repair
from pipelines.reproduce.seeds import Seed, SeedRef, check_exists, list_seeds, load_seed
from pipelines.steps import realise


class ReproducePipeline(Pipeline):
    name = "reproduce"
    # Items of one unit in flight: each mostly waits on the model, so many keep the GPU fed.
    concurrency = 32
    needs_model = True
    journal_every_s = 0.0  # a finished item cost GPU-seconds: keep it through a kill

    def __init__(self, job: JobConfig):
        super().__init__(job)
        cfg = job.reproduce
        if not cfg.seeds:
            raise ConfigError("reproduce needs seed images: pass --seeds PATH or set [reproduce] seeds")
        if not job.model.base_urls:
            raise ConfigError(
                "reproduce needs a model endpoint: pass --endpoint URL (start one with "
                "`iccgen serve`) or set base_url under [model]"
            )
        check_exists(cfg.seeds)
        self.prompts = prompts.load("reproduce", cfg.prompt_version, ("caption", "code", "repair"))
        self.targets = prompts.load("targets", job.targets.prompt_version,
                                    grounded_caption.NAMES + code_target.NAMES)

    def plan(self, store: ShardStore) -> list[UnitSpec]:
        refs = list_seeds(self.job.reproduce.seeds or "", self.job.reproduce.image_column)
        refs = refs[: self.job.n_for(self.name)]
        size = self.job.shard_size
        return [
            UnitSpec(self.name, u, len(chunk), self.job.seed, tuple(chunk))
            for u, chunk in enumerate(refs[i : i + size] for i in range(0, len(refs), size))
        ]

    def max_attempts(self) -> int:
        return 1

    async def attempt(self, ctx: UnitContext, item: int, attempt: int) -> Outcome:
        ref: SeedRef = ctx.spec.inputs[item]
        seed = await asyncio.to_thread(load_seed, ref, ctx.job.reproduce.image_column)
        if isinstance(seed, Rejected):
            return seed
        try:
            return await self._reproduce(ctx, seed, item, attempt)
        except NoCode as e:
            return Rejected("no_code", str(e))
        except ModelRequestError as e:
            return Rejected("model:refused", str(e))

    async def _reproduce(self, ctx: UnitContext, seed: Seed, item: int, attempt: int) -> Outcome:
        caption = (await ask(ctx, self.prompts.render("caption"), seed.png)).text.strip()
        if not caption:
            return Rejected("no_caption")
        code = code_of(await ask(ctx, self.prompts.render("code", caption=caption), seed.png))
        code, result, repairs = await run_with_repair(
            ctx, code, self.prompts, ctx.job.reproduce.max_repairs
        )
        meta: dict[str, Any] = {"repairs": repairs, "seed_uri": seed.ref.uri,
                                "seed_size": [seed.width, seed.height]}
        qc: dict[str, Any] = {}
        facts = checked = None  # worked out for the refine step, then handed to realise
        if result.ok:
            score = await asyncio.to_thread(similarity.similarity, seed.png, result.png)
            qc = score.to_dict()
            cfg = ctx.job.reproduce
            if not score.passes(cfg.min_ssim, cfg.max_phash_distance):
                return Rejected("dissimilar", f"ssim {score.ssim:.3f} (min {cfg.min_ssim}), "
                                f"phash distance {score.phash_distance} (max {cfg.max_phash_distance})")
            if ctx.job.targets.refine_captions:
                trace = result.trace or {}
                facts = facts_from_trace(trace)
                grounded = await grounded_caption.refine_caption(
                    ctx, self.targets, caption, code, trace, facts)
                caption, checked = grounded.caption, grounded.grounding
                meta["caption"] = grounded.to_dict()
        return await realise(
            ctx, item=item, attempt=attempt, code=code, caption=caption, result=result,
            source_id=seed.ref.source_id, model=ctx.job.model.model,
            prompt_version=self.prompts.version, qc=qc, meta=meta, explain_with=self.targets,
            facts=facts, checked=checked,
        )
