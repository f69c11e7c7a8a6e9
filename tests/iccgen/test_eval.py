"""STEM2Code-Eval against the scripted server: ideal, wrong and broken answers, judges included,
over one tiny solid job made once for the module; the released JSONL layout; resume."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from model_server import ModelServer, Request, reply

from iccgen.cli import main
from iccgen.config import load_config
from iccgen.eval.dataset import read
from iccgen.eval.runner import JOURNAL, EvalConfig, evaluate
from iccgen.runner import run_job

WRONG = """import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([0, 1, 2], [2, 0, 1], color="red")
ax.set_title("something else")
"""
BROKEN = "import matplotlib.pyplot as plt\nraise RuntimeError('broken on purpose')\n"
KEYS = {"score", "exec_rate", "image_score", "code_score", "judge_free", "n"}


@pytest.fixture(scope="module")
def out(ray_session, tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("job") / "out")
    run_job(load_config(pipelines=["solid"], n=5, shard_size=5, workers=1, out=folder))
    return folder


@pytest.fixture(scope="module")
def programs_by_image(out) -> dict[bytes, str]:
    return {s.png(): s.reference_code for s in read(out, split="all").samples}


def scripted(mode: str, programs: dict[bytes, str]):
    """The model under test answers per mode; the judge scores 95 for an exact match, else 10."""
    def script(request: Request):
        if "Score: <total>/100" in request.text:
            if len(request.images) == 2:
                return reply(f"Comments: ...\nScore: {95 if request.images[0] == request.images[1] else 10}/100")
            blocks = re.findall(r"```python\n(.*?)\n```", request.text, re.S)
            return reply(f"**Score**: {95 if blocks[0] == blocks[1] else 10}/100")
        code = {"ideal": programs.get(request.images[0], ""), "wrong": WRONG, "broken": BROKEN}[mode]
        return reply(f"Here is the code:\n```python\n{code}\n```\nIt draws the figure.")
    return script


def run_eval(data: str, folder: Path, mode: str, programs: dict[bytes, str], **kw) -> tuple[dict, ModelServer]:
    with ModelServer(scripted(mode, programs)) as server:
        summary = evaluate(EvalConfig(data=data, endpoint=server.url, model="m", out=str(folder),
                                      judge_endpoint=server.url, judge_model="judge", split="all",
                                      timeout_s=30, **kw))
    return summary, server


def test_scores_are_ordered_ideal_wrong_broken(out, programs_by_image, tmp_path):
    summaries = {mode: run_eval(out, tmp_path / mode, mode, programs_by_image)[0]
                 for mode in ("ideal", "wrong", "broken")}
    ideal, wrong, broken = summaries["ideal"], summaries["wrong"], summaries["broken"]
    assert ideal["score"] > wrong["score"] > broken["score"]
    assert ideal["judge_free"]["score"] > wrong["judge_free"]["score"] > broken["judge_free"]["score"]
    assert ideal["exec_rate"] == wrong["exec_rate"] == 100 and broken["exec_rate"] == 0
    assert ideal["image_score"] == 95 and broken["image_score"] == 0
    # a perfect answer renders pixel-exact with the job's own sandbox settings
    assert ideal["judge_free"]["ssim"] == 1 and ideal["judge_free"]["trace"] == 1
    assert ideal["score"] == pytest.approx((95 + 95 + 100) / 3, abs=0.01)

    folder = tmp_path / "ideal"
    on_disk = json.loads((folder / "summary.json").read_text())
    assert KEYS <= on_disk.keys() and on_disk["n"] == 5 and on_disk["score"] == ideal["score"]
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and all(r["status"] == "ok" and r["code_score"] == 95 for r in rows)
    broken_rows = (tmp_path / "broken" / "results.jsonl").read_text().splitlines()
    assert {json.loads(line)["status"] for line in broken_rows} == {"exec:runtime_error"}


def test_a_killed_eval_resumes_from_its_journal(out, programs_by_image, tmp_path):
    first, _ = run_eval(out, tmp_path, "ideal", programs_by_image, limit=3)
    assert first["n"] == 3
    with open(tmp_path / JOURNAL, "a") as f:
        f.write('{"id": "solid-u0000')  # the line a kill cut short
    summary, server = run_eval(out, tmp_path, "ideal", programs_by_image)
    model_calls = [r for r in server.log if "reproduces the picture below" in r.text]
    assert len(model_calls) == 2 and summary["n"] == 5 and summary["exec_rate"] == 100


def test_released_jsonl_layout(out, programs_by_image, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    lines = []
    for i, (png, code) in enumerate(programs_by_image.items()):
        (images / f"{i}.png").write_bytes(png)
        ref = f"{i}.png" if i % 2 else f"data:image/png;base64,{base64.b64encode(png).decode()}"
        user = {"role": "user", "content": [{"type": "image", "image": ref}, {"type": "text", "text": "q"}]}
        answer = {"role": "assistant", "content": [{"type": "text", "text": f"```python\n{code}```"}]}
        # the released positions, and once with the same roles elsewhere
        messages = [{"role": "system", "content": "s"}, user, {"role": "user", "content": "x"}, answer]
        lines.append(json.dumps({"messages": messages if i else [user, answer]}))
    data = tmp_path / "bench" / "stem2code.jsonl"
    data.parent.mkdir()
    data.write_text("\n".join(lines) + "\n")
    samples = read(str(data), str(images)).samples
    assert [s.id for s in samples] == ["0", "1", "2", "3", "4"]
    assert all(s.reference_code == programs_by_image[s.png()] for s in samples)
    summary, _ = run_eval(str(data), tmp_path / "eval", "ideal", programs_by_image, images=str(images))
    assert summary["exec_rate"] == 100 and summary["image_score"] == 95


def test_cli_refuses_a_missing_image_and_a_changed_model(out, tmp_path, capsys):
    data = tmp_path / "b.jsonl"
    data.write_text(json.dumps({"messages": [{}, {"role": "user", "content": [{"image": "nope.png"}]}, {},
                                             {"role": "assistant", "content": [{"text": "x"}]}]}) + "\n")
    assert main(["eval", "--data", str(data), "--endpoint", "http://127.0.0.1:9/v1", "--model", "m",
                 "--out", str(tmp_path / "e")]) == 2
    assert "nope.png not found" in capsys.readouterr().err
    (tmp_path / "e2").mkdir()
    (tmp_path / "e2" / "_eval.json").write_text(json.dumps({"model": "other"}))
    assert main(["eval", "--data", out, "--split", "all", "--endpoint", "http://127.0.0.1:9/v1",
                 "--model", "m", "--out", str(tmp_path / "e2")]) == 2
    assert "different" in capsys.readouterr().err


def test_a_dead_endpoint_stops_the_eval_saying_how_it_resumes(out, tmp_path, capsys):
    assert main(["eval", "--data", out, "--split", "all", "--limit", "1", "--endpoint",
                 "http://127.0.0.1:9/v1", "--model", "m", "--out", str(tmp_path / "e")]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "model endpoint http://127.0.0.1:9/v1 failed" in err and "run the same command again" in err
    assert "(0 of 1 samples are journaled in" in err and "the same command resumes)" in err
    assert "shards" not in err  # a run's wording: an eval has none


def test_answer_limits_the_served_context_cannot_hold_are_refused_first(tmp_path):
    from iccgen.errors import ConfigError

    with ModelServer(max_model_len=3072) as server:
        base = dict(data=str(tmp_path / "none.jsonl"), endpoint=server.url, model="test-model",
                    out=str(tmp_path / "eval"))
        with pytest.raises(ConfigError, match="Set --max-tokens to 1024 or less"):
            evaluate(EvalConfig(**base))  # the default 16384
        with pytest.raises(ConfigError, match="Set --judge-max-tokens to 1024 or less"):
            evaluate(EvalConfig(**base, max_tokens=1024, judge_endpoint=server.url,
                                judge_model="test-model"))
        assert server.requests == 0
    assert not (tmp_path / "eval").exists()
