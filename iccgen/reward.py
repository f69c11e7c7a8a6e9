"""The paper's GRPO reward for image-to-code (§3.4), with verl's custom-reward signature.

    r = format + exec + code similarity + image similarity        (each part in [0, 1], r <= 4)

format is 1 when the answer holds a closed ```python fence; exec is 1 when that program renders
in iccgen's sandbox; code and image similarity come from judge endpoints when configured (the
STEM2Code rubrics, 0-100 scaled to [0, 1]) and otherwise from the execution traces (ChartMimic-
style F1s, `iccgen.tracescore`) and the pixels (SSIM and phash). A program that fails to run
scores 0 for image similarity, and for code similarity unless a judge reads the code.

The ground truth is the reference program; it is rendered once per process and cached. An
image in `extra_info["image"]` (bytes, {"bytes": ...} or a path), when given, is the picture the
rendering is compared with. Programs run on one warm sandbox pool per process, reused across
calls (a fork per program, not an interpreter start). Settings come from keyword arguments (verl's
`reward.reward_kwargs`) or the environment: ICCGEN_REWARD_WORKERS (sandbox processes, default
the CPU count), ICCGEN_REWARD_JUDGE_URL and ICCGEN_REWARD_JUDGE_MODEL (an OpenAI-compatible
judge; its key in the variable ICCGEN_REWARD_JUDGE_KEY_ENV names, default OPENAI_API_KEY) and
ICCGEN_REWARD_UNCONFINED=1 (accept running without the isolation this machine lacks).

verl:  reward.custom_reward_function.path=<this file>  reward.custom_reward_function.name=compute_score
swift: --external_plugins <this file> --reward_funcs iccgen_codepercept
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iccgen.config import ModelConfig
from iccgen.eval import judges
from iccgen.model import ModelClient
from iccgen.tracescore import pixel_score, trace_score
from pipelines.codeblock import extract_code, has_python_fence

log = logging.getLogger(__name__)

REFERENCE_CACHE = 1024  # rendered ground truths kept per process (about 60 KB each)
PARTS = ("format", "exec", "code_sim", "image_sim")


@dataclass(frozen=True)
class Settings:
    workers: int
    unconfined: bool
    judge_url: str | None
    judge_model: str | None
    judge_key_env: str

    @classmethod
    def resolve(cls, **kwargs: Any) -> Settings:
        env = os.environ
        workers = kwargs.get("workers") or env.get("ICCGEN_REWARD_WORKERS") or os.cpu_count() or 1
        return cls(
            workers=max(1, int(workers)),
            unconfined=bool(kwargs.get("unconfined", env.get("ICCGEN_REWARD_UNCONFINED") == "1")),
            judge_url=kwargs.get("judge_endpoint") or env.get("ICCGEN_REWARD_JUDGE_URL") or None,
            judge_model=kwargs.get("judge_model") or env.get("ICCGEN_REWARD_JUDGE_MODEL") or None,
            judge_key_env=env.get("ICCGEN_REWARD_JUDGE_KEY_ENV", "OPENAI_API_KEY"),
        )


@dataclass(frozen=True)
class Reference:
    png: bytes | None
    trace: dict | None


def _image_bytes(image: Any) -> bytes | None:
    if isinstance(image, dict):
        image = image.get("bytes") or image.get("path")
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if isinstance(image, str) and Path(image).is_file():
        return Path(image).read_bytes()
    return None


class RewardScorer:
    """A warm sandbox pool, the cache of rendered references and the judges, on one private
    event loop: sync callers wait on it, async callers await it, and connections and the pool
    are shared by both."""

    def __init__(self, settings: Settings):
        from sandbox import Sandbox

        self.settings = settings
        self.pid = os.getpid()
        self.sandbox = Sandbox(workers=settings.workers, unconfined=settings.unconfined)
        self.judge = None
        if settings.judge_url:
            self.judge = ModelClient(ModelConfig(
                base_urls=[settings.judge_url], model=settings.judge_model or "gpt-4o",
                api_key_env=settings.judge_key_env, temperature=0.0, concurrency=64))
        self._references: OrderedDict[str, asyncio.Future] = OrderedDict()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True, name="iccgen-reward").start()

    def submit(self, answer: str, ground_truth: str, image: Any = None) -> Future:
        return asyncio.run_coroutine_threadsafe(self.score(answer, ground_truth, image), self._loop)

    async def _render_reference(self, code: str) -> Reference:
        result = await self.sandbox.arun(code, trace=True)
        if not result.ok:
            log.warning("ground-truth program does not render (%s): %s", result.status, result.error)
            return Reference(None, None)
        return Reference(result.png, result.trace)

    async def reference(self, code: str) -> Reference:
        key = hashlib.sha256(code.encode()).hexdigest()
        future = self._references.get(key)
        if future is None:
            # Every rollout of one prompt waits on the same rendering.
            future = self._loop.create_task(self._render_reference(code))
            self._references[key] = future
            while len(self._references) > REFERENCE_CACHE:
                self._references.popitem(last=False)
        else:
            self._references.move_to_end(key)
        return await future

    async def score(self, answer: str, ground_truth: str, image: Any = None) -> dict[str, float]:
        parts = dict.fromkeys(PARTS, 0.0)
        parts["format"] = float(has_python_fence(answer))
        code = extract_code(answer)
        if code is None:
            return {"score": 0.0, **parts}
        reference, result = await asyncio.gather(self.reference(ground_truth),
                                                 self.sandbox.arun(code, trace=True))
        picture = _image_bytes(image) or reference.png
        parts["exec"] = float(result.ok)
        if result.ok and reference.trace is not None:
            parts["code_sim"] = trace_score(reference.trace, result.trace or {}).mean
        if result.ok and picture is not None:
            parts["image_sim"] = (await asyncio.to_thread(pixel_score, picture, result.png)).similarity
        if self.judge is not None:
            await self._judged(parts, ground_truth, code, picture, result.png if result.ok else None)
        return {"score": sum(parts.values()), **parts}

    async def _judged(self, parts: dict[str, float], reference_code: str, code: str,
                      picture: bytes | None, png: bytes | None) -> None:
        """Judge scores replace the judge-free ones they can; an unreadable verdict keeps them."""
        asks = [judges.code_score(self.judge, reference_code, code)]
        if picture is not None and png is not None:
            asks.append(judges.image_score(self.judge, picture, png))
        verdicts = await asyncio.gather(*asks, return_exceptions=True)
        for name, verdict in zip(("code_sim", "image_sim"), verdicts):
            if isinstance(verdict, judges.JudgeScore) and verdict.score is not None:
                parts[name] = verdict.score / 100
            elif isinstance(verdict, BaseException):
                log.warning("reward judge failed, judge-free %s kept: %s", name, verdict)


_scorers: dict[Settings, RewardScorer] = {}
_lock = threading.Lock()


def scorer(**kwargs: Any) -> RewardScorer:
    """This process's scorer for these settings (a forked child builds its own pool)."""
    settings = Settings.resolve(**kwargs)
    with _lock:
        found = _scorers.get(settings)
        if found is None or found.pid != os.getpid():
            found = _scorers[settings] = RewardScorer(settings)
        return found


def _reference_image(extra_info: dict | None) -> Any:
    return (extra_info or {}).get("image")


def compute_score(data_source: str, solution_str: str, ground_truth: str,
                  extra_info: dict | None = None, **kwargs: Any) -> dict[str, float]:
    """verl's custom reward: `score` (the sum) and its four parts."""
    return scorer(**kwargs).submit(solution_str, ground_truth, _reference_image(extra_info)).result()


async def compute_score_async(data_source: str, solution_str: str, ground_truth: str,
                              extra_info: dict | None = None, **kwargs: Any) -> dict[str, float]:
    """The same reward for async reward loops; many calls may be in flight at once."""
    future = scorer(**kwargs).submit(solution_str, ground_truth, _reference_image(extra_info))
    return await asyncio.wrap_future(future)


def _orm_base() -> type:
    try:
        from swift.plugin import ORM  # ms-swift 3.x
    except ImportError:
        try:
            from swift.rewards import ORM  # ms-swift 4.x
        except ImportError:
            return object
    return ORM


class CodePerceptORM(_orm_base()):  # type: ignore[misc]
    """ms-swift GRPO reward function: one reward per completion; the dataset's `solution`
    column holds the reference program (as `iccgen export --format swift` writes it)."""

    def __call__(self, completions: list[Any], solution: list[str], **kwargs: Any) -> list[float]:
        shared = scorer()
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        futures = [shared.submit(text, truth) for text, truth in zip(texts, solution)]
        return [f.result()["score"] for f in futures]


def _register_with_swift() -> None:
    try:
        from swift.plugin import orms
    except ImportError:
        try:
            from swift.rewards import orms
        except ImportError:
            return
    orms["iccgen_codepercept"] = CodePerceptORM


_register_with_swift()
