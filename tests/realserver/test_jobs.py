"""Jobs against vLLM itself, through `iccgen run --endpoint` and `iccgen eval`: Solid, Reproduce
and model Diversity in one job; Solid with the three model judges in another; then
STEM2Code-Eval of the first job's rows. The tiny model answers gibberish, so Reproduce and
Diversity reject their candidates (no code) and the judges' verdicts are unparsed: judges fail
closed, so the judged job keeps nothing (which is why it is a job of its own: Diversity needs
parents). What must hold is the bookkeeping: every candidate kept or rejected with a reason, no
unit failed, and the token counts the jobs record are the ones vLLM counted for its answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cpu_server import TIMINGS, Served
from PIL import Image, ImageDraw

from iccgen.store import ShardStore

pytestmark = [pytest.mark.realserver, pytest.mark.timeout(1800)]
MAX_TOKENS = 64
JOB = """
pipelines = {pipelines}
n = 2
shard_size = 2
workers = 1
max_attempts = 2
out = "{out}"

[reproduce]
seeds = "{seeds}"
n = 4
max_repairs = 1

[diversity]
mutator = "model"
k = 1
max_repairs = 1

[model]
max_tokens = {max_tokens}
timeout_s = 600
max_retries = 2
concurrency = 8

[qc]
judges = {judges}
"""
JUDGES = ["code", "image", "consistency"]
MADE = ["solid", "reproduce", "diversity"]


def seeds(folder: Path) -> Path:
    """Three bar charts and one file that is not an image (rejected as a seed, and counted)."""
    folder.mkdir()
    for i, heights in enumerate([(3, 5, 2), (1, 4, 4, 2), (5, 1)]):
        image = Image.new("RGB", (400, 300), "white")
        draw = ImageDraw.Draw(image)
        for j, h in enumerate(heights):
            draw.rectangle((40 + 80 * j, 260 - 40 * h, 100 + 80 * j, 260), fill=(30 * i, 90, 200))
        image.save(folder / f"bars_{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def iccgen(*args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iccgen.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def job(served: Served, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, tuple]:
    root = tmp_path_factory.mktemp("job")
    before = served.tokens_served()
    outs, dones = {}, []
    for name, pipelines, judges in (("made", MADE, []), ("judged", ["solid"], JUDGES)):
        config = root / f"{name}.toml"
        config.write_text(JOB.format(out=root / name, seeds=seeds(root / f"seeds-{name}"),
                                     max_tokens=MAX_TOKENS, pipelines=json.dumps(pipelines),
                                     judges=json.dumps(judges)))
        t0 = time.monotonic()
        dones.append(iccgen("run", str(config), "--endpoint", served.url, "--model", served.model))
        TIMINGS[f"job {name}: {' + '.join(pipelines)} (s)"] = time.monotonic() - t0
        outs[name] = root / name
    after = served.tokens_served()
    done = next((d for d in dones if d.returncode != 0), dones[0])
    return outs, done, (after[0] - before[0], after[1] - before[1])


def test_the_job_finishes_with_every_candidate_accounted_for(job):
    outs, done, _ = job
    assert done.returncode == 0, done.stderr[-4000:]
    out = outs["made"]
    store = ShardStore(str(out))
    planned = json.loads((out / "_job.json").read_text())["planned"]
    assert set(planned) == {"solid", "reproduce", "diversity"}
    for pipeline, units in planned.items():
        stats = [s for _, s in store.iter_stats(pipeline)]
        assert len(stats) == units, f"{pipeline}: {units} units planned, {len(stats)} committed"
        for s in stats:
            assert s["attempts"] == s["kept"] + sum(s["rejects"].values()), (pipeline, s)
            assert all(reason for reason in s["rejects"]), s["rejects"]
            assert all(sample["reason"] for sample in s["reject_samples"])
    reproduce = [s for _, s in store.iter_stats("reproduce")]
    assert sum(s["attempts"] for s in reproduce) == 4  # one candidate per seed
    rejects = sum(sum(s["rejects"].values()) for s in reproduce)
    kept = sum(s["kept"] for s in reproduce)
    assert kept + rejects == 4 and any(r.startswith("seed:") for s in reproduce for r in s["rejects"])


def test_the_model_reached_every_model_step(job):
    outs, done, _ = job
    assert done.returncode == 0, done.stderr[-4000:]
    store = ShardStore(str(outs["made"]))
    for pipeline in ("reproduce", "diversity"):
        usage = sum((s.get("usage", {}).get("requests", 0) for _, s in store.iter_stats(pipeline)))
        assert usage > 0, f"{pipeline} made no model request"
    judged = [s for _, s in ShardStore(str(outs["judged"])).iter_stats("solid")]
    assert sum(s.get("usage", {}).get("requests", 0) for s in judged) > 0, "no judge was asked"
    # gibberish verdicts are asked again, then rejected: never passed (judges fail closed)
    assert sum(s["kept"] for s in judged) == 0
    assert all(set(s["rejects"]) == {"judge:unparsed"} for s in judged), [s["rejects"] for s in judged]


def test_usage_counts_are_vllms(job):
    outs, done, (prompt_served, generated_served) = job
    assert done.returncode == 0, done.stderr[-4000:]
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0}
    for out in outs.values():
        store = ShardStore(str(out))
        for pipeline in MADE:
            for _, s in store.iter_stats(pipeline):
                for key in usage:
                    usage[key] += s.get("usage", {}).get(key, 0)
    assert usage["prompt_tokens"] == prompt_served
    assert usage["completion_tokens"] == generated_served
    assert usage["requests"] <= usage["completion_tokens"] <= usage["requests"] * MAX_TOKENS


def test_eval_of_the_jobs_rows(job, served: Served, tmp_path):
    outs, done, _ = job
    assert done.returncode == 0, done.stderr[-4000:]
    t0 = time.monotonic()
    result = iccgen("eval", "--data", str(outs["made"]), "--split", "all", "--limit", "2",
                    "--endpoint", served.url, "--model", served.model,
                    "--judge-endpoint", served.url, "--judge-model", served.model,
                    "--max-tokens", str(MAX_TOKENS), "--judge-max-tokens", str(MAX_TOKENS),
                    "--out", str(tmp_path / "eval"))
    TIMINGS["eval of 2 rows, judged (s)"] = time.monotonic() - t0
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    results = [json.loads(line) for line in (tmp_path / "eval" / "results.jsonl").read_text().splitlines()]
    assert summary["n"] == len(results) == 2
    assert summary["judge_model"] == served.model
    # the model answered every sample (gibberish: no code, or code that fails), none refused
    assert all(r["status"] == "no_code" or r["status"].startswith(("exec", "ok")) for r in results), results


def test_a_max_tokens_over_the_served_context_stops_the_job_first(served: Served, tmp_path):
    config = tmp_path / "job.toml"
    config.write_text(JOB.format(out=tmp_path / "out", seeds=seeds(tmp_path / "seeds"), max_tokens=8192,
                                 pipelines=json.dumps(MADE), judges=json.dumps(JUDGES)))
    before = served.tokens_served()
    done = iccgen("run", str(config), "--endpoint", served.url, "--model", served.model, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Set max_tokens under [model] to" in done.stderr and "--max-model-len" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()
    assert served.tokens_served() == before
