"""Image Reproduce end to end: Ray workers, the sandbox, and the scripted model server.

The seeds are renderings of the fixture programs. The scripted model recognises a seed by the
image it is sent and answers with that seed's role: the exact program, a broken one that its
repair fixes, a loop, an answer without code, a program of another seed, and so on.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from model_server import Answer, ModelServer, Request, dropped, empty_choices, malformed, \
    rate_limited, reply, server_error, slow, targets_answer
from PIL import Image

from iccgen.config import JobConfig
from iccgen.errors import EndpointError, InputError
from iccgen.store import ShardStore
from pipelines.reproduce.pipeline import ReproducePipeline
from pipelines.reproduce.seeds import decode_seed
from sandbox import Sandbox

pytestmark = pytest.mark.timeout(240)

PROGRAMS = Path(__file__).parents[1] / "fixtures" / "programs"

# seed program -> what the scripted model does with it
ROLES = {
    "bar_rainfall": "exact",
    "damped_oscillation": "broken_then_fixed",
    "scatter_regression": "loops_then_fixed",
    "pie_energy_mix": "no_fence",
    "polar_rose": "always_raises",
    "histogram_normal": "other_program",
}
KEPT = {"bar_rainfall", "damped_oscillation", "scatter_regression"}
BROKEN = "import math\nmath.no_such_function()  # seed: {name}\n"
LOOP = "while True:  # seed: {name}\n    pass\n"


def fenced(code: str) -> str:
    return f"Here is the program.\n\n```python\n{code}```\n"


def job_config(out, seeds, **over) -> JobConfig:
    base = dict(
        out=str(out), pipelines=["reproduce"], n=100, shard_size=3, workers=1,
        reproduce={"seeds": str(seeds), "max_repairs": 2},
        model={"base_url": "http://127.0.0.1:9/v1", "model": "test-model", "timeout_s": 1.0,
               "backoff_s": 0.05, "max_backoff_s": 0.2, "max_retries": 8},
        sandbox={"cpu_seconds": 1.5, "wall_seconds": 2.0, "figsize": [6, 6], "dpi": 80},
        # The scripted drafts ("A STEM figure drawn by the program X.") claim nothing checkable;
        # the test of captions that say too little asks for the default.
        qc={"min_claims": 0},
    )
    for key, value in over.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) else value
    return JobConfig.model_validate(base)


class Script:
    """Answers caption, code and repair prompts for the seeds it knows."""

    def __init__(self, programs: dict[str, str], seed_keys: dict[str, str]):
        self.programs, self.seed_keys = programs, seed_keys
        self.down_after: int | None = None
        self.count = itertools.count(1)
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Answer:
        with self.lock:
            n = next(self.count)
        if self.down_after is not None and n > self.down_after:
            return dropped()
        if (answer := targets_answer(request)) is not None:
            return answer
        if not request.images:
            return self.repair(request.text)
        name = self.seed_keys[hashlib.sha256(request.images[0]).hexdigest()]
        if "A detailed description of the image" not in request.text:
            return reply(f"A STEM figure drawn by the program {name}.")
        return self.code(name)

    def code(self, name: str) -> Answer:
        role = ROLES.get(name, "exact")
        if role == "no_fence":
            return reply("I would plot a pie chart with plt.pie and four slices.")
        if role == "other_program":
            return reply(fenced(self.programs["contour_potential"]))
        if role == "broken_then_fixed" or role == "always_raises":
            return reply(fenced(BROKEN.format(name=name)))
        if role == "loops_then_fixed":
            return reply(fenced(LOOP.format(name=name)))
        return reply(fenced(self.programs[name]))

    def repair(self, text: str) -> Answer:
        name = text.split("# seed: ", 1)[1].split("\n", 1)[0].strip()
        if ROLES[name] == "always_raises":
            return reply(fenced(BROKEN.format(name=name)))
        return reply(fenced(self.programs[name]))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Seed images (the fixture programs rendered as the job renders) and three bad files."""
    programs = {p.stem: p.read_text() for p in PROGRAMS.glob("*.py")}
    folder = tmp_path_factory.mktemp("seeds")
    job = job_config(folder / "unused", folder)
    names = sorted(ROLES) + ["rc_circuit", "vector_field"]
    keys = {}
    with Sandbox(limits=job.sandbox.limits()) as sb:
        for name in names:
            png = sb.run(programs[name]).png
            (folder / f"{name}.png").write_bytes(png)
            keys[hashlib.sha256(decode_seed(png)[0]).hexdigest()] = name
    (folder / "zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    (folder / "zz_empty.png").write_bytes(b"")
    Image.new("RGB", (8, 8), "white").save(folder / "zz_tiny.png")
    return folder, keys, {n for n in names if ROLES.get(n, "exact") == "exact"} | KEPT


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def run(job: JobConfig):
    from iccgen.runner import run_job
    from rich.console import Console

    return run_job(job, Console(file=io.StringIO()))


def test_reproduce_end_to_end_with_transient_faults(ray_session, programs, rendered, tmp_path):
    seeds, keys, expected = rendered
    with ModelServer(Script(programs, keys)) as server:
        # Every kind of transient fault, served to whichever requests come first. The slow answer
        # is far past the 1 s timeout: a worker's event loop stalled by a loaded machine may
        # otherwise read an answer only a little late before its timer fires.
        server.faults.extend([rate_limited(0.2), server_error(500), server_error(503), malformed(),
                              empty_choices(), slow(5.0), dropped()])
        job = job_config(tmp_path / "out", seeds, model={"base_url": server.url})
        (result,) = run(job)

    assert (result.planned, result.committed, result.shortfall) == (4, 4, 11 - len(expected))
    store = ShardStore(job.out)
    table = store.read("reproduce")
    rows = table.to_pylist()
    assert {r["source_id"].removesuffix(".png") for r in rows} == expected
    # Kept rows re-render to their stored image, and carry their lineage and scores.
    with Sandbox(limits=job.sandbox.limits()) as sb:
        for row in rows:
            again = sb.run(row["code"])
            assert again.ok and np.array_equal(pixels(again.png), pixels(row["image"]["bytes"]))
            assert row["model"] == "test-model" and row["prompt_version"] == "reproduce/v1"
            assert '"ssim": 1.0' in row["qc"] and '"phash_distance": 0' in row["qc"]
            assert row["caption"].startswith("A STEM figure")
            # The seed's caption was the draft, checked against the program; the code target
            # explains the real program, spliced in verbatim.
            meta = json.loads(row["meta"])
            assert meta["caption"]["chosen"] == "refined" and "execution log" in meta["caption"]["analysis"]
            assert meta["target_prompts"] == "targets/v1"
            assert f"```python\n{row['code'].rstrip()}\n```" in row["code_target"]
    repaired = {r["source_id"]: r["meta"] for r in rows if '"repairs": 1' in r["meta"]}
    assert set(repaired) == {"damped_oscillation.png", "scatter_regression.png"}
    # Every reject has a reason; the transient faults cost retries, not items.
    stats = [store.stats("reproduce", u) for u in range(4)]
    rejects = sum((Counter(s["rejects"]) for s in stats), Counter())
    assert rejects == {"no_code": 1, "exec:runtime_error": 1, "dissimilar": 1,
                       "seed:corrupt": 1, "seed:empty": 1, "seed:too_small": 1}
    assert all(s["reason"] for st in stats for s in st["reject_samples"])
    # Each fault costs one retry of ours, except that httpx may itself resend a request whose
    # reused keep-alive connection was dropped.
    assert sum(s["usage"].get("retries", 0) for s in stats) >= 6
    assert server.requests == sum(s["usage"].get("requests", 0) for s in stats)


def test_endpoint_down_fails_the_job_then_resumes(ray_session, programs, rendered, tmp_path):
    seeds, keys, expected = rendered
    script = Script(programs, keys)
    only_good = {"seeds": str(seeds), "max_repairs": 0}
    with ModelServer(script) as server:
        job = job_config(tmp_path / "out", seeds, shard_size=2, max_in_flight=1, n=6,
                         reproduce=only_good, model={"base_url": server.url, "max_retries": 2})
        # Units run one after another: the first two units' 12 requests pass, then the server
        # dies (a kept seed costs 6: caption, code, analysis, refine, explanation and its
        # rewrite; the three rejected seeds 2 each).
        script.down_after = 12
        with pytest.raises(EndpointError, match=rf"{server.url}.*run the same command again: "
                                               "committed shards are kept and the job resumes$"):
            run(job)
        store = ShardStore(job.out)
        assert store.committed_units("reproduce") == {0, 1}
        for unit in (0, 1):  # intact: readable, and as many rows as the unit kept
            rows = pq.read_table(store.shard_path("reproduce", unit)).num_rows
            assert rows == store.stats("reproduce", unit)["kept"]

        script.down_after = None  # the endpoint is back: the same command resumes
        (result,) = run(job)
    assert (result.skipped, result.committed) == (2, 1)
    assert store.committed_units("reproduce") == {0, 1, 2}


def test_missing_seeds_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        ReproducePipeline(job_config(tmp_path / "out", tmp_path / "nowhere"))


# What a model may answer the refine step with that is no caption, one kind per kept seed.
NON_ANSWERS = {
    "bar_rainfall": "I need the image to answer.",
    "damped_oscillation": "",
    "rc_circuit": "Quarterly earnings of the company rose sharply as investors returned to equity markets.",
    "scatter_regression": "A figure with data.",
    "vector_field": None,  # the draft's first sentence only: grounded, but it says less
}
# False claims about the data, in numbers and words that all occur in the seed's program.
PLANTED = {
    "bar_rainfall": " The tallest bar is Jun.",  # Jan's is
    "damped_oscillation": " The displacement x(t) reaches a maximum of 1.0 at t = 5.0.",  # at t = 0
    "rc_circuit": " The curve decays from x = 2.0 to x = 4.0.",  # the resistor's zigzag does not
}


class Refuser(Script):
    """Drafts each seed's caption from its trace (planting a false claim in some) and answers
    the refine step with a non-answer."""

    def __init__(self, programs, seed_keys, drafts: dict[str, str]):
        super().__init__(programs, seed_keys)
        self.drafts = drafts

    def __call__(self, request: Request) -> Answer:
        if "Verified facts:" in request.text:
            name = next(n for n, d in self.drafts.items() if f"Draft:\n{d}\n" in request.text)
            return reply(NON_ANSWERS[name] if NON_ANSWERS[name] is not None
                         else self.drafts[name].split(". ", 1)[0] + ".")
        seed = self.seed_keys.get(hashlib.sha256(request.images[0]).hexdigest()) if request.images else None
        if seed and "A detailed description of the image" not in request.text:
            return reply(self.drafts[seed])
        return super().__call__(request)


def test_no_kept_caption_is_a_non_answer_or_a_false_claim_about_the_data(ray_session, programs, rendered,
                                                                        tmp_path):
    from pipelines.captions import describe
    from pipelines.facts import facts_from_trace

    seeds, keys, expected = rendered
    with Sandbox(limits=job_config(tmp_path / "out", seeds).sandbox.limits()) as sb:
        drafts = {n: describe(facts_from_trace(sb.run(programs[n], trace=True).trace),
                              np.random.default_rng(0)) for n in sorted(set(keys.values()))}
    for name, planted in PLANTED.items():
        drafts[name] += planted
    with ModelServer(Refuser(programs, keys, drafts)) as server:
        job = job_config(tmp_path / "out", seeds, model={"base_url": server.url},
                         qc={"min_claims": JobConfig().qc.min_claims})
        (result,) = run(job)
    rows = ShardStore(job.out).read("reproduce").to_pylist()
    kept = {r["source_id"].removesuffix(".png"): r for r in rows}
    # The honest drafts stand; the drafts with a false claim are rejected, not replaced.
    assert set(kept) == expected - set(PLANTED)
    for name, row in kept.items():
        meta = json.loads(row["meta"])["caption"]
        assert row["caption"] == drafts[name] and meta["chosen"] == "draft", name
        assert meta["refine_passed_over"], name
    stats = [ShardStore(job.out).stats("reproduce", u) for u in range(result.committed)]
    samples = [r["detail"] for s in stats for r in s["reject_samples"] if r["reason"] == "ungrounded"]
    assert sum(s["rejects"].get("ungrounded", 0) for s in stats) == len(PLANTED)
    assert set(samples) == {"tallest bar is Jun", "maximum of 1.0 at t = 5.0", "decays from x = 2.0 to x = 4.0"}
