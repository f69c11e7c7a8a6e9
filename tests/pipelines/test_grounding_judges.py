"""Model judges (Q_C, Q_I, Q_IC) against the scripted server, malformed verdicts included."""

from __future__ import annotations

from collections import Counter

import pytest

from iccgen.config import JobConfig, ModelConfig
from iccgen.errors import EndpointError
from iccgen.model import ModelClient
from iccgen.unit import Kept, Rejected
from pipelines.judges import ASKS, JUDGES, judge_all, parse, prompt
from pipelines.steps import realise
from model_server import ModelServer, Request, malformed, reply, run_and_close, server_error

PROGRAM = "import matplotlib.pyplot as plt\nplt.plot([0, 1, 2], [0, 1, 4], color='red')\n"


@pytest.mark.parametrize("judge, text, outcome, label, score", [
    ("code", "High-value abstraction.\nVERDICT: Qualified\nSCORE: 4", "pass", "qualified", 4),
    ("code", "**Verdict:** Disqualified\n**Score:** 1", "fail", "disqualified", 1),
    ("code", "It is clearly disqualified: magic offsets.", "fail", "disqualified", None),
    ("image", "No class-A errors.\nVERDICT: Pass", "pass", "pass", None),
    ("image", "A-3 axes without data. verdict - FAIL", "fail", "fail", None),
    ("consistency", "VERDICT: Fundamental Mismatch\nthe path order differs", "fail", "fundamental mismatch", None),
    ("consistency", "Sufficient match overall.", "pass", "sufficient match", None),
    # malformed: no verdict, both verdicts, garbage, an empty answer
    ("code", "I cannot judge this.", "unparsed", None, None),
    ("image", "It could pass or fail.", "unparsed", None, None),
    ("consistency", "{\"verdict\": 42}", "unparsed", None, None),
    ("code", "", "unparsed", None, None),
])
def test_verdicts_are_parsed_robustly(judge, text, outcome, label, score):
    v = parse(JUDGES[judge], text)
    assert (v.outcome, v.label, v.score) == (outcome, label, score)


def test_prompts_hold_the_code_only_where_the_judge_reads_it():
    assert "plt.plot" in prompt(JUDGES["code"], PROGRAM) and "plt.plot" in prompt(JUDGES["consistency"], PROGRAM)
    assert "plt.plot" not in prompt(JUDGES["image"], PROGRAM)


def _script(request: Request):
    if "names no verdict that can be read" in request.text:  # asked again: still no verdict
        return reply("I stand by what I said.")
    if "teach a model" in request.text:
        return reply("VERDICT: Disqualified\nSCORE: 2")
    if "fatal rendering errors" in request.text:
        return reply("VERDICT: Pass" if request.images else "no image was sent")
    return reply("garbage \x00 without any verdict")


def _model(url: str) -> ModelClient:
    return ModelClient(ModelConfig(base_url=url, timeout_s=2, max_retries=2, backoff_s=0.01, max_backoff_s=0.02))


def test_judges_ask_the_endpoint_and_survive_faults():
    with ModelServer(_script) as server:
        server.faults.extend([server_error(503), malformed()])
        usage: Counter[str] = Counter()
        names = ["code", "image", "consistency"]
        model = _model(server.url)
        verdicts = run_and_close(judge_all(model, names, PROGRAM, b"png", usage), model)
    assert [(v.judge, v.outcome) for v in verdicts] == [("code", "fail"), ("image", "pass"),
                                                        ("consistency", "unparsed")]
    assert verdicts[0].score == 2
    assert usage["requests"] == server.requests  # judge calls are charged to the unit
    # The unreadable verdict was asked for again, with the verdicts it may name, and no more.
    reasked = [r for r in server.log if "names no verdict" in r.text]
    assert len(reasked) == ASKS - 1 and "VERDICT: Fundamental Mismatch" in reasked[0].text
    assert [m["role"] for m in reasked[0].body["messages"]] == ["user", "assistant", "user"]


def test_an_unparsed_verdict_asked_again_may_then_be_read():
    def script(request: Request):
        if "names no verdict" in request.text:
            return reply("No class-A errors.\nVERDICT: Pass")
        return reply("Looks fine to me.")

    with ServerModel(script) as model:
        (verdict,) = run_and_close(judge_all(model, ["image"], PROGRAM, b"png", Counter()), model)
    assert (verdict.outcome, verdict.label) == ("pass", "pass")


class ServerModel:
    """A client of a scripted server, for the length of a `with`."""

    def __init__(self, script):
        self.server = ModelServer(script)

    def __enter__(self) -> ModelClient:
        return _model(self.server.start().url)

    def __exit__(self, *exc) -> None:
        self.server.stop()


def test_an_unreachable_judge_endpoint_raises_after_the_retries():
    model = _model("http://127.0.0.1:9/v1")
    with pytest.raises(EndpointError, match="127.0.0.1:9"):
        run_and_close(judge_all(model, ["image"], PROGRAM, b"png", Counter()), model)


@pytest.mark.parametrize("names, reason", [
    (["image"], None), (["code"], "judge:code"), (["image", "consistency"], "judge:unparsed"),
])
def test_configured_judges_gate_in_realise(unit_context, names, reason):
    ctx = unit_context("solid", _script, qc={"judges": names, "min_grounding": 0.0, "min_claims": 0})
    outcome = run_and_close(realise(ctx, item=0, attempt=0, code=PROGRAM, caption="A red curve."), ctx.model)
    if reason is None:
        assert isinstance(outcome, Kept) and outcome.triplet.qc["judges"]["image"]["outcome"] == "pass"
    else:
        assert isinstance(outcome, Rejected) and outcome.reason == reason
    if reason == "judge:unparsed":  # never passed: the row is gone, and says which judge
        assert outcome.detail.startswith("consistency: ")


def test_judges_with_a_dead_endpoint_stop_the_job(ray_session, tmp_path):
    import io

    from rich.console import Console

    from iccgen.runner import run_job

    job = JobConfig.model_validate(dict(
        out=str(tmp_path / "out"), pipelines=["solid"], n=2, shard_size=2, workers=1,
        qc={"judges": ["image"]},
        model={"base_url": "http://127.0.0.1:9/v1", "timeout_s": 1, "max_retries": 1,
               "backoff_s": 0.01, "max_backoff_s": 0.02}))
    with pytest.raises(EndpointError, match=r"127\.0\.0\.1:9"):
        run_job(job, Console(file=io.StringIO()))
