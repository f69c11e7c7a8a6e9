"""`iccgen eval`: STEM2Code-Eval against an OpenAI-compatible endpoint, resumable.

Per sample: ask the model with the benchmark's own prompt (its system line, then the task text
and the image), take the python block of the answer, run it in iccgen's sandbox (the released
harness runs a bare subprocess with a 30 s timeout), score it without a model (traces and
pixels, `iccgen.tracescore`) and, with --judge-endpoint, with the two judges. Each finished
sample is appended to DIR/_journal.jsonl (flushed and fsynced), so a killed eval run again
skips what it finished. At the end DIR/results.jsonl (one line per sample, in sample order) and
DIR/summary.json are written whole, under temporary names renamed into place.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from iccgen.config import ModelConfig
from iccgen.errors import ConfigError, ConfinementMissing, EndpointError, ModelRequestError, OutputError
from iccgen.eval import judges
from iccgen.eval.dataset import EvalData, Sample, read
from iccgen.eval.scores import SampleResult, failed_judge_free, summarise
from iccgen.model import ModelClient, check_context, image_part
from iccgen.tracescore import pixel_score, trace_score
from pipelines import prompts
from pipelines.codeblock import extract_code

JOURNAL = "_journal.jsonl"
SETTINGS = "_eval.json"
PROMPT_VERSION = "v1"


@dataclass(frozen=True)
class EvalConfig:
    data: str
    endpoint: str
    model: str
    out: str
    judge_endpoint: str | None = None
    judge_model: str | None = None
    images: str | None = None
    split: str = "val"
    val_fraction: float = 0.05
    limit: int | None = None
    concurrency: int = 16
    temperature: float = 0.7
    max_tokens: int = 16384
    judge_max_tokens: int = 4096
    timeout_s: float = 600.0
    api_key_env: str = "OPENAI_API_KEY"
    judge_key_env: str = "OPENAI_API_KEY"
    unconfined: bool = False

    def model_config(self) -> ModelConfig:
        return ModelConfig(base_urls=[self.endpoint], model=self.model, api_key_env=self.api_key_env,
                           temperature=self.temperature, max_tokens=self.max_tokens,
                           timeout_s=self.timeout_s, concurrency=self.concurrency)

    def judge_config(self) -> ModelConfig | None:
        if not self.judge_endpoint:
            return None
        return ModelConfig(base_urls=[self.judge_endpoint], model=self.judge_model or self.model,
                           api_key_env=self.judge_key_env, temperature=0.0,
                           max_tokens=self.judge_max_tokens, timeout_s=self.timeout_s,
                           concurrency=self.concurrency)

    def identity(self) -> dict[str, Any]:
        """What a resumed eval must share with the journal it continues."""
        return {"data": os.path.abspath(self.data) if "://" not in self.data else self.data,
                "model": self.model, "judge_model": self.judge_model if self.judge_endpoint else None,
                "split": self.split, "val_fraction": self.val_fraction, "prompt_version": PROMPT_VERSION}


def benchmark_messages(png: bytes) -> list[dict[str, Any]]:
    p = prompts.load("eval", PROMPT_VERSION, ("system", "task"))
    return [{"role": "system", "content": p.render("system").strip()},
            {"role": "user", "content": [{"type": "text", "text": p.render("task").strip()},
                                         image_part(png)]}]


class Journal:
    """Finished samples, one JSON line each; a torn last line (a kill mid-write) is ignored."""

    def __init__(self, folder: Path):
        self.path = folder / JOURNAL
        self._lock = asyncio.Lock()

    def done(self) -> dict[str, SampleResult]:
        if not self.path.is_file():
            return {}
        found = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                result = SampleResult.from_dict(json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue
            found[result.id] = result
        return found

    async def add(self, result: SampleResult) -> None:
        line = json.dumps(result.to_dict(), ensure_ascii=False) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def _prepare(cfg: EvalConfig) -> Path:
    folder = Path(cfg.out)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder; choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / SETTINGS
    if settings.is_file():
        before = json.loads(settings.read_text())
        changed = [k for k, v in cfg.identity().items() if before.get(k) != v]
        if changed:
            raise OutputError(f"{folder} holds an eval with different {', '.join(changed)}; "
                              "rerun with the same settings to resume, or choose another --out")
    else:
        _write_atomic(settings, json.dumps(cfg.identity(), indent=2) + "\n")
    return folder


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Evaluator:
    def __init__(self, cfg: EvalConfig, data: EvalData, sandbox: Any):
        self.cfg = cfg
        self.data = data
        self.sandbox = sandbox
        self.model = ModelClient(cfg.model_config())
        judge = cfg.judge_config()
        self.judge = None if judge is None else ModelClient(judge)

    async def aclose(self) -> None:
        await self.model.aclose()
        if self.judge is not None:
            await self.judge.aclose()

    async def one(self, sample: Sample) -> SampleResult:
        png = await asyncio.to_thread(sample.png)
        try:
            reply = await self.model.chat(benchmark_messages(png))
        except ModelRequestError as e:
            return SampleResult(sample.id, "model_refused", error=str(e)[:500],
                                judge_free=failed_judge_free(), image_score=self._zero(),
                                code_score=self._zero())
        code = extract_code(reply.text)
        if code is None:
            return SampleResult(sample.id, "no_code", error="no closed python block in the answer",
                                judge_free=failed_judge_free(), image_score=self._zero(),
                                code_score=self._zero())
        reference, result = await asyncio.gather(self.sandbox.arun(sample.reference_code, trace=True),
                                                 self.sandbox.arun(code, trace=True))
        status = "ok" if result.ok else f"exec:{result.status.value}"
        out = SampleResult(sample.id, status, code=code, error=result.error[:500])
        out.judge_free = await asyncio.to_thread(self._judge_free, png, reference, result)
        if self.judge is not None:
            await self._judged(out, sample, png, result)
        return out

    def _zero(self) -> float | None:
        return 0.0 if self.judge is not None else None

    @staticmethod
    def _judge_free(png: bytes, reference: Any, result: Any) -> dict[str, float]:
        if not result.ok:
            return failed_judge_free()
        scores: dict[str, float] = pixel_score(png, result.png).to_dict()
        if reference.ok:  # a reference that cannot run here leaves the trace parts out
            scores.update(trace_score(reference.trace or {}, result.trace or {}).to_dict())
        return scores

    async def _judged(self, out: SampleResult, sample: Sample, png: bytes, result: Any) -> None:
        asks = [judges.code_score(self.judge, sample.reference_code, out.code)]
        if result.ok:
            asks.append(judges.image_score(self.judge, png, result.png))
        verdicts = await asyncio.gather(*asks)
        out.code_score = verdicts[0].score
        out.image_score = verdicts[1].score if result.ok else 0.0
        out.judges = {name: v.rationale for name, v in zip(("code", "image"), verdicts)}


async def _run(cfg: EvalConfig, data: EvalData, folder: Path, sandbox: Any, console: Console) -> list[SampleResult]:
    journal = Journal(folder)
    done = journal.done()
    samples = data.samples[: cfg.limit] if cfg.limit else data.samples
    todo = [s for s in samples if s.id not in done]
    if done:
        console.print(f"resuming: {len(samples) - len(todo)} of {len(samples)} samples already journaled")
    evaluator = Evaluator(cfg, data, sandbox)
    gate = asyncio.Semaphore(cfg.concurrency)
    try:
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task("evaluating", total=len(todo))

            async def work(sample: Sample) -> None:
                async with gate:
                    result = await evaluator.one(sample)
                await journal.add(result)
                done[sample.id] = result
                progress.advance(bar)

            tasks = [asyncio.create_task(work(s)) for s in todo]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
    except EndpointError as e:
        raise EndpointError(f"{e} ({len(done)} of {len(samples)} samples are journaled in "
                            f"{folder / JOURNAL}; the same command resumes)") from None
    finally:
        await evaluator.aclose()
    return [done[s.id] for s in samples]


def evaluate(cfg: EvalConfig, console: Console | None = None) -> dict[str, Any]:
    """Run (or resume) the eval; writes results.jsonl and summary.json, returns the summary."""
    from sandbox import ConfinementError, Sandbox

    console = console or Console(stderr=True)
    if cfg.judge_endpoint and not cfg.judge_model:
        raise ConfigError("--judge-endpoint needs --judge-model, the judge's served model name")
    check_context(cfg.model_config(), "--max-tokens")
    if (judge := cfg.judge_config()) is not None:
        check_context(judge, "--judge-max-tokens")
    data = read(cfg.data, cfg.images, cfg.split, cfg.val_fraction)
    folder = _prepare(cfg)
    try:
        with Sandbox(limits=data.limits, workers=max(1, os.cpu_count() or 1),
                     unconfined=cfg.unconfined) as sandbox:
            results = asyncio.run(_run(cfg, data, folder, sandbox, console))
    except ConfinementError as e:
        raise ConfinementMissing(f"{e}; or, to run the answers without isolation, pass "
                                 "--unconfined-sandbox") from None
    summary = summarise(results, judged=cfg.judge_endpoint is not None)
    summary.update(model=cfg.model, judge_model=cfg.judge_model if cfg.judge_endpoint else None,
                   data=data.source)
    _write_atomic(folder / "results.jsonl",
                  "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in results))
    _write_atomic(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
    print_summary(summary, folder, console)
    return summary


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def print_summary(summary: dict[str, Any], folder: Path, console: Console) -> None:
    table = Table(title=f"STEM2Code-Eval: {summary['model']} on {summary['n']} samples")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("note")
    judged = summary["judge_model"]
    note = f"judge {judged}" if judged else "needs --judge-endpoint"
    table.add_row("score", _fmt(summary["score"]), "(image + code + exec) / 3, the paper's")
    table.add_row("image_score", _fmt(summary["image_score"]), note)
    table.add_row("code_score", _fmt(summary["code_score"]), note)
    table.add_row("exec_rate", _fmt(summary["exec_rate"]), "% of samples whose program rendered")
    free = summary["judge_free"]
    table.add_row("judge-free score", _fmt(free["score"]), "(100 trace + 100 pixel + exec) / 3")
    for key in ("trace", "text_f1", "kind_f1", "colour_f1", "layout_f1", "ssim", "pixel", "phash_distance"):
        table.add_row(f"  {key}", _fmt(free[key]), "")
    console.print(table)
    console.print(f"per-sample results: {folder / 'results.jsonl'}; summary: {folder / 'summary.json'}",
                  highlight=False)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="STEM2Code-Eval of a model endpoint (resumable)",
                       description="Ask a model to write matplotlib code for each benchmark image, run "
                       "it in the sandbox, and score it with judges (--judge-endpoint) and without.")
    p.add_argument("--data", required=True, help="STEM2Code-Eval JSONL, or an iccgen output folder")
    p.add_argument("--endpoint", required=True, help="the model's OpenAI-compatible base URL")
    p.add_argument("--model", required=True, help="the model's served name")
    p.add_argument("--out", required=True, help="folder for the journal, results.jsonl, summary.json")
    p.add_argument("--judge-endpoint", help="judge's base URL (image and code scores)")
    p.add_argument("--judge-model", help="judge's served name (the paper: gemini-2.5-pro, gpt-4o)")
    p.add_argument("--images", help="folder of the benchmark's images (relative paths in the JSONL)")
    p.add_argument("--split", choices=["val", "all"], default="val",
                   help="iccgen data: the held-out rows (as `iccgen export` splits them) or all")
    p.add_argument("--val", type=float, default=0.05, help="iccgen data: the validation share (0.05)")
    p.add_argument("--limit", type=int, help="only the first N samples")
    p.add_argument("--concurrency", type=int, default=16, help="samples in flight (default 16)")
    p.add_argument("--temperature", type=float, default=0.7, help="the model's sampling temperature")
    p.add_argument("--max-tokens", type=int, default=16384, help="the model's answer length limit")
    p.add_argument("--judge-max-tokens", type=int, default=4096, help="the judge's answer length limit")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="NAME of the variable with the model's key")
    p.add_argument("--judge-key-env", default="OPENAI_API_KEY", help="NAME of the variable with the judge's key")
    p.add_argument("--unconfined-sandbox", action="store_true",
                   help="run answers without the isolation this machine lacks (trusted models only)")
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args: argparse.Namespace, console: Console) -> int:
    evaluate(EvalConfig(
        data=args.data, endpoint=args.endpoint, model=args.model, out=args.out,
        judge_endpoint=args.judge_endpoint, judge_model=args.judge_model, images=args.images,
        split=args.split, val_fraction=args.val, limit=args.limit, concurrency=args.concurrency,
        temperature=args.temperature, max_tokens=args.max_tokens,
        judge_max_tokens=args.judge_max_tokens, api_key_env=args.api_key_env,
        judge_key_env=args.judge_key_env, unconfined=args.unconfined_sandbox), console)
    return 0
