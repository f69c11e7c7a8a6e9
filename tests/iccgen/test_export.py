"""`iccgen export` over one tiny solid + diversity job made once for the module: every layout's
fields, images, `<image>` counts, the hash split, byte-identical reruns, `datasets` loading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from iccgen.cli import main
from iccgen.config import load_config
from iccgen.export import export, split_of
from iccgen.runner import run_job

FILES = ["caption_train.jsonl", "caption_val.jsonl", "code_train.jsonl", "code_val.jsonl"]


@pytest.fixture(scope="module")
def out(ray_session, tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("job") / "out")
    run_job(load_config(pipelines=["solid", "diversity"], n=6, shard_size=3, workers=1, out=folder))
    return folder


def rows(folder: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


def turns(row: dict) -> list[tuple[str, str]]:
    if "conversations" in row:
        return [(t["from"], t["value"]) for t in row["conversations"]]
    return [(t["role"], t["content"]) for t in row["messages"]]


@pytest.mark.parametrize("fmt", ["swift", "llamafactory", "sharegpt"])
def test_layout_fields_images_and_tags(out, tmp_path, fmt):
    dest = tmp_path / "sft"
    manifest = export(out, fmt, str(dest), val_fraction=0.4)
    assert sorted(manifest["files"]) == FILES and manifest["rows"] == 12
    user, assistant = ("human", "gpt") if fmt == "sharegpt" else ("user", "assistant")
    for name in FILES:
        for row in rows(dest, name):
            (q_role, question), (a_role, answer) = turns(row)
            assert (q_role, a_role) == (user, assistant) and answer.strip()
            assert question.count("<image>") == len(row["images"]) == 1
            image = Path(row["images"][0])
            assert image.is_absolute() == (fmt == "swift")
            assert (image if image.is_absolute() else dest / image).read_bytes()[:4] == b"\x89PNG"
            if name.startswith("code"):
                assert "```python" in answer
                if fmt == "swift":
                    assert row["solution"] in answer  # the reference program, verbatim
    ids = {Path(r["images"][0]).stem: n for n in FILES for r in rows(dest, n)}
    assert all(n.endswith(f"_{split_of(i, 0.4)}.jsonl") for i, n in ids.items())
    if fmt != "swift":
        info = json.loads((dest / "dataset_info.json").read_text())
        assert {e["file_name"] for e in info.values()} == set(FILES)
        key = "conversations" if fmt == "sharegpt" else "messages"
        assert all(e["formatting"] == "sharegpt" and e["columns"] == {"messages": key, "images": "images"}
                   for e in info.values())
    card = (dest / "README.md").read_text()
    assert manifest["job"] in card and "| solid |" in card and "| diversity |" in card


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_reruns_are_byte_identical_and_datasets_loads_them(out, tmp_path):
    import datasets

    dest = tmp_path / "sft"
    assert main(["export", out, "--format", "swift", "-o", str(dest), "--val", "0.4"]) == 0
    first = digest(dest)
    assert main(["export", out, "--format", "swift", "-o", str(dest), "--val", "0.4"]) == 0
    assert digest(dest) == first and len(first) == 12 + 6  # images, 4 files, card, manifest
    ds = datasets.load_dataset("json", data_files=str(dest / "code_train.jsonl"), split="train")
    assert len(ds) == len(rows(dest, "code_train.jsonl")) and set(ds.column_names) >= {"messages", "images", "solution"}
    assert ds[0]["messages"][0]["role"] == "user"


def test_a_folder_that_is_not_an_export_is_refused(out, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["export", out, "--format", "swift", "-o", str(tmp_path)]) == 2
    assert "holds no iccgen export" in capsys.readouterr().err and (tmp_path / "mine.txt").exists()
    assert not [p for p in tmp_path.parent.iterdir() if ".partial-" in p.name]
