"""Image Reproduce as a pipeline: seed -> caption -> code -> execute/repair -> compare -> realise.

One item per seed. The repair loop lives inside one attempt (the model sees its own error), so
the worker's redraw loop runs once: `max_attempts() == 1`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from iccgen.config import JobConfig
from iccgen.errors import ConfigError, ModelRequestError
from iccgen.model import ModelClient, Reply, user_message
from iccgen.store import ShardStore
from iccgen.unit import Outcome, Pipeline, Rejected, UnitContext, UnitSpec
from pipelines import similarity
from pipelines.codeblock import extract_code
from pipelines.reproduce import prompts
from pipelines.reproduce.seeds import Seed, SeedRef, check_exists, list_seeds, load_seed
from pipelines.steps import execute, realise


class _NoCode(Exception):
    """The answer holds no fenced python block (or was cut off before closing it)."""


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
        self.prompts = prompts.load(cfg.prompt_version)

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
        except _NoCode as e:
            return Rejected("no_code", str(e))
        except ModelRequestError as e:
            return Rejected("model:refused", str(e))

    async def _reproduce(self, ctx: UnitContext, seed: Seed, item: int, attempt: int) -> Outcome:
        caption = (await _ask(ctx, self.prompts.caption(), seed.png)).text.strip()
        if not caption:
            return Rejected("no_caption")
        code = _code(await _ask(ctx, self.prompts.code(caption), seed.png))
        result = await execute(ctx, code)
        repairs = 0
        while not result.ok and repairs < ctx.job.reproduce.max_repairs:
            repairs += 1
            error = "\n".join(filter(None, (result.error, result.traceback_tail)))
            code = _code(await _ask(ctx, self.prompts.repair(code, error)))
            result = await execute(ctx, code)
        meta: dict[str, Any] = {"repairs": repairs, "seed_uri": seed.ref.uri,
                                "seed_size": [seed.width, seed.height]}
        qc: dict[str, Any] = {}
        if result.ok:
            score = await asyncio.to_thread(similarity.similarity, seed.png, result.png)
            qc = score.to_dict()
            cfg = ctx.job.reproduce
            if not score.passes(cfg.min_ssim, cfg.max_phash_distance):
                return Rejected("dissimilar", f"ssim {score.ssim:.3f} (min {cfg.min_ssim}), "
                                f"phash distance {score.phash_distance} (max {cfg.max_phash_distance})")
        return await realise(
            ctx, item=item, attempt=attempt, code=code, caption=caption, result=result,
            source_id=seed.ref.source_id, model=ctx.job.model.model,
            prompt_version=self.prompts.version, qc=qc, meta=meta,
        )


async def _ask(ctx: UnitContext, text: str, image: bytes | None = None) -> Reply:
    """One model call; its tokens, requests and time are charged to the unit."""
    model: ModelClient = ctx.model
    t0 = time.perf_counter()
    reply = await model.chat([user_message(text, (image,) if image else ())])
    ctx.stats.timings["model_s"] += time.perf_counter() - t0
    ctx.stats.usage.update(reply.usage)
    return reply


def _code(reply: Reply) -> str:
    code = extract_code(reply.text)
    if code is None:
        cut = " (the answer hit max_tokens)" if reply.finish_reason == "length" else ""
        raise _NoCode(f"no fenced python block in the answer{cut}: {reply.text[:200]!r}")
    return code
