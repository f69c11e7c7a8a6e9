"""The GRPO reward on the real sandbox: right > wrong > broken > no fence; its parts; the async
variant and the swift ORM on the same warm pool; judges through the scripted server."""

from __future__ import annotations

import asyncio

from model_server import ModelServer, Request, reply

from iccgen import reward
from iccgen.reward import CodePerceptORM, compute_score, compute_score_async

BROKEN = "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]\n```"


def fenced(code: str) -> str:
    return f"The program:\n```python\n{code}```\nDone."


def test_right_beats_wrong_beats_broken_beats_no_fence(programs):
    truth = programs["bar_rainfall"]
    right = compute_score("iccgen", fenced(truth), truth)
    wrong = compute_score("iccgen", fenced(programs["polar_rose"]), truth)
    broken = compute_score("iccgen", BROKEN, truth)
    bare = compute_score("iccgen", truth, truth, extra_info={"index": 0})
    assert right["score"] > wrong["score"] > broken["score"] > bare["score"] == 0
    assert right == {"score": 4.0, "format": 1.0, "exec": 1.0, "code_sim": 1.0, "image_sim": 1.0}
    assert wrong["exec"] == 1 and 0 < wrong["image_sim"] < 1 and wrong["code_sim"] < 1
    assert broken["format"] == 1 and broken["exec"] == broken["image_sim"] == 0
    assert right["score"] == sum(right[p] for p in reward.PARTS)


def test_async_variant_and_orm_share_one_warm_pool(programs):
    truth = programs["energy_diagram"]
    pool = reward.scorer().sandbox

    async def many():
        answers = [fenced(truth), fenced(programs["rc_circuit"]), BROKEN, "no code"] * 2
        return await asyncio.gather(*(compute_score_async("iccgen", a, truth) for a in answers))

    scores = [s["score"] for s in asyncio.run(many())]
    assert scores[:4] == scores[4:] and scores[0] > scores[1] > scores[2] > scores[3]
    orm = CodePerceptORM()
    assert orm([fenced(truth), BROKEN], solution=[truth, truth]) == [scores[0], scores[2]]
    assert reward.scorer().sandbox is pool


def test_a_picture_in_extra_info_is_what_the_rendering_is_compared_with(programs, tmp_path):
    truth = programs["bar_rainfall"]
    other = reward.scorer().sandbox.run(programs["polar_rose"]).png
    (tmp_path / "x.png").write_bytes(other)
    against_other = compute_score("iccgen", fenced(truth), truth, {"image": str(tmp_path / "x.png")})
    assert against_other["image_sim"] < 1 and against_other["code_sim"] == 1


def test_judges_replace_the_judge_free_parts(programs):
    truth = programs["bar_rainfall"]

    def judge(request: Request):
        return reply("Score: 80/100" if request.images else "**Score**: 60/100")

    with ModelServer(judge) as server:
        scores = compute_score("iccgen", fenced(programs["polar_rose"]), truth,
                               judge_endpoint=server.url, judge_model="judge")
        broken = compute_score("iccgen", BROKEN, truth, judge_endpoint=server.url, judge_model="judge")
    assert (scores["code_sim"], scores["image_sim"]) == (0.6, 0.8)
    assert broken["code_sim"] == 0.6 and broken["image_sim"] == 0  # no rendering: the image is 0
