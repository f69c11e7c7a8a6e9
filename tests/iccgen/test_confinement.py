"""A job runs confined on every node, or refuses to start; the opt-out is explicit and recorded."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow.parquet as pq
from hosts import failing_bwrap
from jobs import run_cli

SOLID = ["--pipeline", "solid", "--n", "2", "--shard-size", "2", "--workers", "1"]

# Reads every environment it can see and draws it: a key that reached a program reaches the row.
SNOOP = '''
import os
import matplotlib.pyplot as plt

seen, tried = set(), 0
for pid in os.listdir("/proc"):
    if pid.isdigit() or pid == "self":
        tried += 1
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                seen.update(kv.decode(errors="replace") for kv in f.read().split(b"\\0") if kv)
        except OSError:
            pass
fig, ax = plt.subplots()
ax.plot([0, 1, 2, 3], [0, 1, 4, 9], color="tab:blue")
ax.set_title("tried %d" % tried)
for i, kv in enumerate(sorted(seen)[:16]):
    ax.text(0.05, 0.05 + 0.055 * i, kv[:60], transform=ax.transAxes, fontsize=7)
'''


def persisted_text(out: Path) -> str:
    """Everything the job wrote, as text: JSON files as they are, Parquet files decoded."""
    parts = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            parts.append(json.dumps(table.drop_columns(["image"]).to_pylist(), default=str))
            parts.append(str(table.schema.metadata))
        else:
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


def test_job_refuses_where_a_node_cannot_confine(tmp_path):
    out = tmp_path / "out"
    with failing_bwrap(tmp_path):
        proc = run_cli([*SOLID, "--out", str(out)])
    assert proc.returncode == 2, proc.stderr
    assert "cannot confine programs on node" in proc.stderr and "apt-get install bubblewrap" in proc.stderr
    assert "--unconfined-sandbox" in proc.stderr and "Traceback" not in proc.stderr
    assert not (out / "_job.json").exists()


def test_opt_out_runs_and_is_recorded_in_the_job_and_every_row(tmp_path):
    out = tmp_path / "out"
    with failing_bwrap(tmp_path):
        proc = run_cli([*SOLID, "--out", str(out), "--unconfined-sandbox"])
    assert proc.returncode == 0, proc.stderr
    assert "UNCONFINED" in proc.stderr
    record = json.loads((out / "_job.json").read_text())
    assert record["sandbox"]["unconfined_allowed"] is True
    assert [n["confined"] for n in record["sandbox"]["nodes"]] == [False]
    rows = pq.read_table(out / "solid", columns=["meta"]).column("meta").to_pylist()
    assert len(rows) == 2 and all(json.loads(m)["sandbox"] == "unconfined" for m in rows)


def test_a_key_in_the_drivers_environment_reaches_no_shard(tmp_path):
    key = "sk-iccgen-planted-4f1d9e2b"
    programs = tmp_path / "programs"
    programs.mkdir()
    (programs / "snoop.py").write_text(SNOOP)
    out = tmp_path / "out"
    os.environ["OPENAI_API_KEY"] = key
    try:
        proc = run_cli(["--pipeline", "diversity", "--from", str(programs), "--n", "2",
                        "--shard-size", "2", "--workers", "1", "--out", str(out)])
    finally:
        del os.environ["OPENAI_API_KEY"]
    assert proc.returncode == 0, proc.stderr
    record = json.loads((out / "_job.json").read_text())
    assert all(n["confined"] for n in record["sandbox"]["nodes"])
    text = persisted_text(out)
    tried = [int(n) for n in re.findall(r"tried (\d+)", text)]
    assert tried and max(tried) > 0, "the program looked at no process: the test proves nothing"
    assert key not in text
    metas = pq.read_table(out / "diversity", columns=["meta"]).column("meta").to_pylist()
    assert metas and all(json.loads(m)["sandbox"] == "confined" for m in metas)
