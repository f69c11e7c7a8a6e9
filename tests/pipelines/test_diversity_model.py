"""Image Diversity with a model, end to end through Ray against the scripted test server."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from model_server import ModelServer, Request, reply, targets_answer
from rich.console import Console

from iccgen.config import JobConfig
from iccgen.errors import ConfigError
from iccgen.runner import run_job
from iccgen.store import ShardStore
from pipelines.diversity.pipeline import ModelDiversity, diversity_pipeline

pytestmark = pytest.mark.timeout(240)

PROGRAMS = Path(__file__).parents[1] / "fixtures" / "programs"
PARENTS = ["bar_rainfall", "polar_rose", "damped_oscillation"]
# (parent, variation number as asked) -> the program the "model" writes for it
VARIATIONS = {
    ("bar_rainfall", "1"): "barh_elements", ("bar_rainfall", "2"): "histogram_normal",
    ("polar_rose", "1"): "energy_diagram", ("polar_rose", "2"): "contour_potential",
    ("damped_oscillation", "1"): "BROKEN", ("damped_oscillation", "2"): "barh_elements",
}


class Script:
    def __init__(self) -> None:
        self.code = {p.stem: p.read_text() for p in PROGRAMS.glob("*.py")}
        self.asked: Counter[str] = Counter()

    def parent_of(self, text: str) -> str:
        return next(name for name in PARENTS if self.code[name].strip() in text)

    def __call__(self, request: Request):
        if (answer := targets_answer(request)) is not None:
            return answer
        text = request.text
        if "State the scientific" in text:
            parent = self.parent_of(text)
            self.asked[f"principle:{parent}"] += 1
            return reply(f"The figure of {parent} shows how a quantity varies.")
        if "failed when it was run" in text:  # the repair prompt
            return reply(f"```python\n{self.code['scatter_regression']}```")
        parent = self.parent_of(text)
        index = text.split("Write variation ", 1)[1].split(" ", 1)[0]
        name = VARIATIONS[(parent, index)]
        self.asked[f"variation:{parent}:{index}"] += 1
        code = "import math\nmath.no_such_function()\n" if name == "BROKEN" else self.code[name]
        return reply(f"Here it is.\n```python\n{code}```\n")


def job(tmp_path, url: str, folder: Path) -> JobConfig:
    return JobConfig.model_validate(dict(
        out=str(tmp_path / "out"), pipelines=["diversity"], n=6, shard_size=2, workers=1,
        max_attempts=1,
        diversity={"mutator": "model", "k": 2, "from": str(folder), "max_repairs": 1},
        model={"base_url": url, "model": "test-model", "timeout_s": 5, "backoff_s": 0.05},
        qc={"min_claims": 0},  # the scripted drafts claim nothing checkable
    ))


def test_model_diversity_end_to_end(ray_session, tmp_path):
    folder = tmp_path / "parents"
    folder.mkdir()
    for name in PARENTS:
        (folder / f"{name}.py").write_text((PROGRAMS / f"{name}.py").read_text())
    script = Script()
    with ModelServer(script) as server:
        (result,) = run_job(job(tmp_path, server.url, folder), Console(file=io.StringIO()))
    rows = pd.read_parquet(tmp_path / "out" / "diversity")
    # barh_elements is written twice: its second copy is a near-duplicate and is dropped.
    assert result.rows == 5 and result.rejects == {"near_duplicate": 1}
    (reject,) = [r for _, s in ShardStore(str(tmp_path / "out")).iter_stats("diversity")
                 for r in s["reject_samples"]]
    kept = set(rows["id"])
    assert reject["detail"].split(", 0 bits from ")[1] in kept  # it names the row it repeats
    assert set(rows["parent_id"]) == {f"py:{p}" for p in PARENTS}
    assert set(rows["prompt_version"]) == {"diversity/v1"} and set(rows["model"]) == {"test-model"}
    meta = rows["meta"].map(__import__("json").loads)
    assert all("shows how a quantity varies" in m["principle"] for m in meta)
    repaired = rows[meta.map(lambda m: m["repairs"] == 1)]
    assert list(repaired["parent_id"]) == ["py:damped_oscillation"]
    assert all(rows["caption"].str.len() > 20)
    # shard_size = k: each unit holds one parent's siblings and asks for its principle once.
    assert {k: v for k, v in script.asked.items() if k.startswith("principle")} == {
        f"principle:{p}": 1 for p in PARENTS}
    stats = [s for _, s in ShardStore(str(tmp_path / "out")).iter_stats("diversity")]
    assert sum(s["usage"]["requests"] for s in stats) == server.requests


def test_model_mutator_needs_an_endpoint(tmp_path):
    cfg = JobConfig.model_validate(dict(pipelines=["diversity"], diversity={
        "mutator": "model", "from": str(PROGRAMS)}))
    with pytest.raises(ConfigError, match="needs a model endpoint"):
        diversity_pipeline(cfg)


def test_principle_tasks_do_not_travel():
    cfg = JobConfig.model_validate(dict(pipelines=["diversity"], diversity={
        "mutator": "model", "from": str(PROGRAMS)}, model={"base_url": "http://127.0.0.1:9/v1"}))
    pipeline = ModelDiversity(cfg)
    pipeline._principles["x"] = object()
    assert __import__("pickle").loads(__import__("pickle").dumps(pipeline))._principles == {}
