"""End to end through real Ray, real Parquet files and the real sandbox."""

import io
import json
import os
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import ray
from jobs import ICCGEN, kill_when, run_cli
from rich.console import Console

from iccgen.cli import main
from iccgen.config import load_config
from iccgen.errors import InputError, JobMismatchError
from iccgen.hashing import hamming, phash_png
from iccgen.lease import LEASE_FILE
from iccgen.display import summarise
from iccgen.report import print_status
from iccgen.runner import run_job, run_stage
from iccgen.schema import Triplet, to_table
from iccgen.store import ShardStore
from iccgen.unit import UnitSpec
from sandbox import Sandbox

DEMO = Path(__file__).parents[2] / "examples" / "demo.toml"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "programs"
MIX = {"cube_net": 1, "three_view": 1, "cube_stack": 1, "polyhedron": 1}


def cli(*args, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "iccgen.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300, **kw)


def ids(out) -> list[str]:
    table = ShardStore(str(out)).read("solid", columns=["id"])
    return sorted(table.column("id").to_pylist())


@pytest.fixture(scope="module")
def small_job(ray_session, tmp_path_factory):
    """The demo job (`make demo`), shrunk."""
    out = tmp_path_factory.mktemp("job") / "out"
    job = load_config(DEMO, out=str(out), n=6, shard_size=3, seed=1, workers=1,
                      diversity={"n": 4, "k": 2}, solid={"mix": MIX})
    results = run_job(job)
    return job, out, results


def test_job_writes_one_shard_per_unit(small_job):
    job, out, results = small_job
    assert [r.rows for r in results] == [6, 4]
    assert sorted(os.listdir(out / "solid")) == ["part-00000.parquet", "part-00001.parquet"]
    assert sorted(os.listdir(out / "diversity")) == ["part-00000.parquet", "part-00001.parquet"]
    table = pq.read_table(out / "solid")
    df = pd.read_parquet(out / "solid")
    assert table.num_rows == len(df) == 6
    assert df["id"].is_unique and set(df["family"]) <= set(MIX)
    assert all(df["caption"].str.len() > 20)


def test_stats_ride_in_shard_metadata(small_job):
    _, out, _ = small_job
    store = ShardStore(str(out))
    stats = store.stats("solid", 0)
    assert stats["kept"] == 3 and stats["attempts"] >= 3 and stats["fingerprint"]
    assert "sandbox_s" in stats["timings"]


def test_stored_programs_rerender_to_the_same_hash(small_job):
    _, out, _ = small_job
    rows = pd.concat([pd.read_parquet(out / p) for p in ("solid", "diversity")])
    with Sandbox(workers=1) as sb:
        for code, stored in zip(rows["code"], rows["phash"]):
            result = sb.run(code)
            assert result.ok, result.error
            assert phash_png(result.png) == stored


def test_diversity_rows_have_lineage_and_no_near_duplicates(small_job):
    job, out, _ = small_job
    div = pd.read_parquet(out / "diversity")
    solid_ids = set(pd.read_parquet(out / "solid")["id"])
    assert set(div["parent_id"]) <= solid_ids
    assert all(div["meta"].str.contains("mutations"))
    hashes = list(pd.read_parquet(out / "solid")["phash"]) + list(div["phash"])
    close = [(a, b) for a, b in combinations(hashes, 2) if hamming(int(a), int(b)) <= job.dedup.threshold]
    assert close == []


def test_changed_config_is_refused(small_job):
    job, out, _ = small_job
    with pytest.raises(JobMismatchError, match="changed: n"):
        run_job(job.model_copy(update={"n": 7}))


def test_rerun_of_finished_job_changes_nothing(small_job):
    job, out, _ = small_job
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/*.parquet")}
    results = run_job(job)
    assert [r.skipped for r in results] == [2, 2] and [r.committed for r in results] == [0, 0]
    # the resume's row-count cache is not among what the readers' glob sees
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*.parquet")} == before
    assert {p.parent.name for p in before} == {"solid", "diversity"}


def test_a_rerun_summarises_the_committed_units_as_status_does(tmp_path):
    store = ShardStore(str(tmp_path))
    store.write_job({"fingerprint": "f", "pipelines": ["reproduce"]})
    row = Triplet(id="reproduce-0", pipeline="reproduce", png=b"png", caption="c", code="x",
                  phash=0, width=1, height=1, unit=1, item=0)
    store.commit("reproduce", 0, to_table([]),
                 {"kept": 0, "shortfall": 1, "rejects": {"seed:corrupt": 1}})
    store.commit("reproduce", 1, to_table([row]),
                 {"kept": 1, "shortfall": 1, "rejects": {"seed:corrupt": 1, "dissimilar": 2}})

    class Planned:  # a pipeline whose every unit an earlier run committed
        name = "reproduce"

        def plan(self, store):
            return [UnitSpec("reproduce", u, 1, 0) for u in (0, 1)]

    class NothingToDo:
        def run(self, pipeline, todo, result, bar):
            assert todo == []

    quiet = Console(file=io.StringIO())
    result = run_stage(Planned(), store, NothingToDo(), quiet)
    assert (result.skipped, result.committed, result.rows, result.shortfall) == (2, 0, 1, 2)
    assert result.rejects == {"seed:corrupt": 2, "dissimilar": 2}
    summary, status = Console(file=io.StringIO(), width=200), Console(file=io.StringIO(), width=200)
    summarise([result], store.uri, summary, 1.0)
    print_status(store.uri, status)
    assert "2/2 (2 resumed)" in summary.file.getvalue()
    assert "seed:corrupt 2, dissimilar 2" in summary.file.getvalue()
    assert "rejects by reason, reproduce: seed:corrupt 2, dissimilar 2" in status.file.getvalue()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--n", "-1"], "bad value for 'n'"),
        (["--pipeline", "solid,bogus"], "pipelines.1"),
        (["--pipeline", "solid", "--seeds", "seeds", "--mutator", "model"],
         "--mutator configures the diversity pipeline, which this job does not run (pipelines: "
         "solid); add it with --pipeline solid,diversity, or leave out --mutator"),
        (["--pipeline", "solid,diversity", "--seeds", "seeds"], "--seeds configures the reproduce"),
    ],
)
def test_cli_user_errors_exit_2_and_write_nothing(tmp_path, args, needle):
    out = tmp_path / "out"
    proc = cli("run", "--out", str(out), *args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_a_start_refused_for_its_inputs_does_not_hold_the_output_against_the_fix(ray_session,
                                                                               tmp_path):
    """An empty --from folder is refused only once the job is recorded; after the user adds a
    program, the same command runs instead of reporting changed inputs."""
    parents, out = tmp_path / "parents", tmp_path / "out"
    parents.mkdir()
    job = load_config(None, pipelines=["diversity"], out=str(out), n=1, workers=1,
                      diversity={"from": str(parents), "n": 1, "k": 1})
    with pytest.raises(InputError, match="no .py programs"):
        run_job(job)
    assert json.loads((out / "_job.json").read_text())["planned"] == {}
    (parents / "bars.py").write_text((FIXTURES / "bar_rainfall.py").read_text())
    [result] = run_job(job)
    assert result.planned == 1 and result.committed == 1


def test_a_recorded_job_that_planned_nothing_but_has_shards_is_still_protected(small_job):
    """Only a record with no plan and no shard is started over: an older job's shards are not."""
    job, out, _ = small_job
    record = json.loads((out / "_job.json").read_text())
    try:
        (out / "_job.json").write_text(json.dumps({**record, "planned": {}}))
        with pytest.raises(JobMismatchError):
            run_job(load_config(DEMO, out=str(out), n=7))
    finally:
        (out / "_job.json").write_text(json.dumps(record))


def test_cli_unknown_key_and_unwritable_out(tmp_path):
    bad = tmp_path / "job.toml"
    bad.write_text("n = 3\nnot_a_key = 1\n")
    proc = cli("run", str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "unknown key 'not_a_key'" in proc.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = cli("run", "--n", "2", "--out", str(blocker / "out"))
    assert proc.returncode == 2 and "not writable" in proc.stderr and "Traceback" not in proc.stderr


def test_unwritable_out_is_refused_before_ray_starts(tmp_path, capsys):
    ray.shutdown()  # an earlier test's Ray: the refusal must come before Ray is started
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "--n", "2", "--out", str(blocker / "out")]) == 2
    assert not ray.is_initialized()
    assert "output is not writable" in capsys.readouterr().err


def test_cli_other_job_in_out_is_refused(small_job):
    _, out, _ = small_job
    before = sorted(p.name for p in out.rglob("*"))
    proc = cli("run", "--pipeline", "solid", "--n", "5", "--out", str(out))
    assert proc.returncode == 2
    assert "different config" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.rglob("*")) == before


def test_sigkill_half_way_then_resume_gives_the_same_ids(ray_session, tmp_path):
    # 12 units: the killed driver's orphaned workers (alive for a second or two, holding at most
    # 2 units each) cannot finish the job behind the test's back.
    run_job(load_config(pipelines=["solid"], n=24, shard_size=2, seed=5, out=str(tmp_path / "full")))
    out = tmp_path / "killed"
    args = ["--pipeline", "solid", "--n", "24", "--shard-size", "2", "--seed", "5", "--out", str(out)]
    store = ShardStore(str(out))
    kill_when(args, lambda: len(store.committed_units("solid")) >= 3, group=False)
    assert len(store.committed_units("solid")) < 12
    resumed = run_cli(args)
    assert resumed.returncode == 0, resumed.stderr
    assert ids(out) == ids(tmp_path / "full")
    assert len(ids(out)) == 24 == len(set(ids(out)))
    assert store.temporaries() == []


def test_a_max_tokens_the_server_cannot_serve_stops_the_job_before_it_starts(tmp_path):
    from model_server import ModelServer
    from PIL import Image

    from iccgen.config import JobConfig
    from iccgen.errors import ConfigError

    (tmp_path / "seeds").mkdir()
    Image.new("RGB", (64, 64), "white").save(tmp_path / "seeds" / "a.png")
    with ModelServer(max_model_len=2048) as server:
        job = JobConfig.model_validate(dict(
            out=str(tmp_path / "out"), pipelines=["reproduce"], n=1,
            reproduce={"seeds": str(tmp_path / "seeds")},
            model={"base_url": server.url, "model": "test-model", "max_tokens": 4096}))
        with pytest.raises(ConfigError, match="max_tokens under \\[model\\]"):
            run_job(job)
        assert server.requests == 0
    assert not (tmp_path / "out").exists()


def test_second_driver_on_a_busy_out_exits_2_at_once_and_the_first_finishes(tmp_path, capsys):
    ray.shutdown()  # an earlier test's Ray: the refusal must come before Ray is started
    out = tmp_path / "out"
    args = ["--pipeline", "solid", "--n", "16", "--shard-size", "2", "--seed", "3", "--out", str(out)]
    log = (tmp_path / "first.log").open("w+")  # a pipe left unread would block its progress bar
    first = subprocess.Popen([*ICCGEN, *args], stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 240
        while not (out / LEASE_FILE).exists():
            assert first.poll() is None and time.time() < deadline, "the first driver took no lease"
            time.sleep(0.05)
        assert main(["run", *args]) == 2
        assert not ray.is_initialized()  # refused at once: before Ray, before any work
        err = capsys.readouterr().err
        assert f"in use by another iccgen driver (pid {first.pid} on " in err and "Traceback" not in err
        assert first.poll() is None
        assert first.wait(timeout=400) == 0, (tmp_path / "first.log").read_text()[-2000:]
    finally:
        first.kill()
        first.wait()
    assert len(ids(out)) == 16 and not (out / LEASE_FILE).exists()



def test_a_driver_whose_lease_is_taken_over_stops_sending_and_exits_2(tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "job.toml"
    config.write_text("lease_stale_s = 2\n")  # beats every 0.5 s
    args = [str(config), "--pipeline", "solid", "--n", "40", "--shard-size", "2", "--seed", "5",
            "--workers", "1", "--out", str(out)]
    log = (tmp_path / "driver.log").open("w+")
    driver = subprocess.Popen([*ICCGEN, *args], stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 240
        while not list(out.glob("solid/part-*.parquet")):  # running, and committing
            assert driver.poll() is None and time.time() < deadline, log.name
            time.sleep(0.1)
        other = {"owner": "other", "host": "elsewhere", "pid": 1, "since": time.time(),
                 "heartbeat": time.time(), "stale_after_s": 600}
        while driver.poll() is None and time.time() < deadline:  # another driver takes OUT
            (out / LEASE_FILE).write_text(json.dumps({**other, "heartbeat": time.time()}))
            time.sleep(0.1)
        assert driver.wait(timeout=60) == 2
    finally:
        driver.kill()
        driver.wait()
    err = (tmp_path / "driver.log").read_text()
    assert "lease was taken over by pid 1 on elsewhere" in err and "Traceback" not in err
    assert len(ids(out)) < 40  # it stopped: the rest is left to the driver that holds OUT
    assert json.loads((out / LEASE_FILE).read_text())["owner"] == "other"  # theirs is kept
