"""The plan's inputs are pinned in _job.json; a rerun over changed inputs is refused, naming them."""

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from iccgen import inputs
from iccgen.cli import main
from iccgen.config import load_config
from iccgen.errors import InputError, InputsChanged
from iccgen.lease import Lease
from iccgen.runner import prepare_output
from iccgen.store import ShardStore

PROGRAMS = Path(__file__).parents[1] / "fixtures" / "programs"


def seeds(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(name.encode() * 10)
    return folder


def reproduce_job(tmp_path, folder):
    return load_config(pipelines=["reproduce"], out=str(tmp_path / "out"), reproduce={"seeds": str(folder)},
                       model={"base_urls": ["http://127.0.0.1:9/v1"]})


def planned(store, job) -> dict:
    """The job recorded and its units planned, as a run does before its first unit: a record
    that planned nothing is started over, not checked."""
    record = prepare_output(store, job)
    record["planned"] = {name: 1 for name in job.pipelines}
    store.write_job(record)
    return record


def refusal(store, job) -> str:
    with pytest.raises(InputsChanged) as err:
        prepare_output(store, job)
    return str(err.value)


def test_seed_files_pinned_with_size_and_mtime(tmp_path):
    folder = seeds(tmp_path / "seeds", ["a.png", "b.png"])
    (folder / ".hidden.png").write_bytes(b"x")
    job = reproduce_job(tmp_path, folder)
    store = ShardStore(job.out)
    record = prepare_output(store, job)
    files = record["inputs"]["reproduce.seeds"]["files"]
    assert sorted(files) == ["a.png", "b.png"]
    assert files["a.png"][0] == 50 and files["a.png"][1] == os.stat(folder / "a.png").st_mtime_ns
    assert prepare_output(store, job)["inputs"] == record["inputs"]  # unchanged: resumes


def test_added_removed_and_changed_seeds_are_refused_by_name(tmp_path):
    folder = seeds(tmp_path / "seeds", ["a.png", "b.png", "c.png"])
    job = reproduce_job(tmp_path, folder)
    store = ShardStore(job.out)
    planned(store, job)
    seeds(folder, ["d.png"])
    (folder / "a.png").unlink()
    (folder / "b.png").write_bytes(b"other bytes")
    message = refusal(store, job)
    assert "reproduce.seeds: files 1 added (d.png), 1 removed (a.png), 1 changed (b.png)" in message
    assert "restore them to resume, or choose a new --out" in message


def test_many_changes_are_counted_not_all_listed():
    old = {"k": {"files": {}}}
    new = {"k": {"files": {f"{i}.png": [1, 1] for i in range(10)}}}
    assert inputs.diff(old, new) == ["k: files 10 added (0.png, 1.png, 2.png and 7 more)"]


def source_job(path: Path, fingerprint: str, units: list[int]) -> ShardStore:
    path.mkdir()
    store = ShardStore(str(path))
    store.write_job({"fingerprint": fingerprint})
    for unit in units:
        store.commit("solid", unit, pa.table({"id": [f"solid-{unit}"]}), {})
    return store


def test_source_job_changes_are_refused(tmp_path):
    parent = source_job(tmp_path / "parent", "f1", [0, 1])
    job = load_config(pipelines=["diversity"], out=str(tmp_path / "out"), diversity={"from": parent.uri})
    store = ShardStore(job.out)
    assert planned(store, job)["inputs"]["diversity.from"] == {"job": "f1", "units": {"solid": [0, 1]}}
    parent.commit("solid", 2, pa.table({"id": ["solid-2"]}), {})
    assert "diversity.from: the source job's solid shards: 1 added (part-00002)" in refusal(store, job)
    parent.write_job({"fingerprint": "f2"})
    assert "diversity.from: the source job changed (fingerprint f1 -> f2)" in refusal(store, job)


def test_job_from_before_pinning_gets_its_inputs_pinned(tmp_path):
    folder = seeds(tmp_path / "seeds", ["a.png"])
    job = reproduce_job(tmp_path, folder)
    store = ShardStore(job.out)
    record = prepare_output(store, job)
    del record["inputs"]
    store.write_job(record)
    assert prepare_output(store, job)["inputs"]["reproduce.seeds"]["files"].keys() == {"a.png"}
    assert "inputs" in store.read_job()


def test_cli_refuses_a_rerun_over_a_changed_program_folder(ray_session, tmp_path, capsys):
    folder = tmp_path / "programs"
    folder.mkdir()
    for p in sorted(PROGRAMS.glob("*.py"))[:2]:
        shutil.copy(p, folder)
    args = ["run", "--pipeline", "diversity", "--from", str(folder), "--n", "2", "--shard-size", "2",
            "--out", str(tmp_path / "out")]
    assert main(args) == 0
    (folder / "extra.py").write_text("import matplotlib.pyplot as plt\nplt.plot([1, 2])\n")
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "diversity.from: files 1 added (extra.py)" in err and "Traceback" not in err


def test_source_job_still_running_is_refused(tmp_path):
    parent = source_job(tmp_path / "parent", "f1", [0])
    job = load_config(pipelines=["diversity"], out=str(tmp_path / "out"), diversity={"from": parent.uri})
    with Lease(parent.fs, parent.root):
        with pytest.raises(InputError, match=f"still running \\(pid {os.getpid()} on "):
            prepare_output(ShardStore(job.out), job)
    assert prepare_output(ShardStore(job.out), job)["inputs"]["diversity.from"]["units"] == {"solid": [0]}
