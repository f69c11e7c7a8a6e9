"""`iccgen export`: SFT files for the paper's two tasks, for ms-swift and LLaMA-Factory.

Each kept row gives one sample per task: caption (image -> its code-grounded caption) and code
(image -> the explanatory code target, which holds the row's program verbatim). The code task
asks with STEM2Code-Eval's own prompt, so a model is trained on the question it is tested on.
Rows go to train or validation by a hash of their id, so the split never depends on row order,
shard count or which other rows exist; the same job exported twice gives byte-identical files.

Layouts (DIR/images/<id>.png beside the JSONL files):
- swift: `messages` (role/content) and `images` (absolute paths, as `swift sft` opens them
  relative to its working directory otherwise); code rows add `solution`, the reference
  program, which the GRPO reward plugin (`iccgen.reward`) reads;
- llamafactory: the same rows with paths relative to DIR, and `dataset_info.json` (formatting
  sharegpt, role/content tags) so DIR is a `dataset_dir`;
- sharegpt: `conversations` (from/value, human/gpt) and `images`, with its `dataset_info.json`.

The export is built in a sibling folder and renamed into place, so DIR is never half written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from iccgen import __version__
from iccgen.errors import OutputError
from iccgen.readers import open_dataset
from iccgen.report import open_job
from pipelines import prompts

Format = Literal["swift", "llamafactory", "sharegpt"]
FORMATS: tuple[str, ...] = ("swift", "llamafactory", "sharegpt")
TASKS: tuple[str, ...] = ("caption", "code")
MANIFEST = "export.json"
CAPTION_PROMPT = "Describe this image in detail, as precisely as its code would."
COLUMNS = ["id", "pipeline", "image", "caption", "code", "code_target", "family", "model",
           "prompt_version", "source_id"]


def split_of(row_id: str, val_fraction: float) -> str:
    """'val' for about `val_fraction` of ids, 'train' otherwise; a pure function of the id."""
    draw = int.from_bytes(hashlib.sha256(row_id.encode()).digest()[:8], "big") / 2**64
    return "val" if draw < val_fraction else "train"


def code_prompt() -> str:
    return prompts.load("eval", "v1", ("task",)).render("task").strip()


def code_answer(row: dict[str, Any]) -> str:
    return row.get("code_target") or f"```python\n{row['code'].rstrip()}\n```"


@dataclass
class Tally:
    """What the dataset card reports."""

    pipelines: Counter[str] = field(default_factory=Counter)
    families: Counter[tuple[str, str]] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    prompt_versions: Counter[str] = field(default_factory=Counter)
    files: Counter[str] = field(default_factory=Counter)

    def add(self, row: dict[str, Any]) -> None:
        self.pipelines[row["pipeline"]] += 1
        self.families[(row["pipeline"], row.get("family") or "-")] += 1
        self.models[row.get("model") or "none (model-free)"] += 1
        self.prompt_versions[row.get("prompt_version") or "none"] += 1


def _rows(out: str, pipelines: list[str] | None) -> Iterator[dict[str, Any]]:
    """Committed rows shard by shard, in shard path order (the same order every run)."""
    for fragment in open_dataset(out, pipelines).get_fragments():
        yield from fragment.to_table(columns=COLUMNS).to_pylist()


def _sample(fmt: str, task: str, row: dict[str, Any], image: str) -> dict[str, Any]:
    question = f"<image>{CAPTION_PROMPT if task == 'caption' else code_prompt()}"
    answer = row["caption"] if task == "caption" else code_answer(row)
    if fmt == "sharegpt":
        sample: dict[str, Any] = {"conversations": [{"from": "human", "value": question},
                                                    {"from": "gpt", "value": answer}]}
    else:
        sample = {"messages": [{"role": "user", "content": question},
                               {"role": "assistant", "content": answer}]}
    sample["images"] = [image]
    if fmt == "swift" and task == "code":
        sample["solution"] = row["code"]
    return sample


def dataset_info(fmt: str, files: list[str]) -> dict[str, Any]:
    """LLaMA-Factory's `dataset_info.json`: one entry per file, named `iccgen_<file stem>`."""
    if fmt == "sharegpt":
        columns, tags = {"messages": "conversations", "images": "images"}, {
            "role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}
    else:
        columns, tags = {"messages": "messages", "images": "images"}, {
            "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
    return {f"iccgen_{Path(f).stem}": {"file_name": f, "formatting": "sharegpt", "columns": columns,
                                      "tags": tags} for f in files}


def _check_target(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"{dest}: exists and is not a folder; choose another -o")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MANIFEST).is_file():
        raise OutputError(f"{dest}: folder is not empty and holds no iccgen export; "
                          "choose an empty or new -o (a previous export there is replaced)")


def _replace(staging: Path, dest: Path) -> None:
    old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)


def export(out: str, fmt: str, dest_dir: str, tasks: tuple[str, ...] = TASKS,
           val_fraction: float = 0.05, pipelines: list[str] | None = None) -> dict[str, Any]:
    """Write the export of job `out` to `dest_dir`; returns the manifest."""
    if fmt not in FORMATS:
        raise OutputError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        raise OutputError(f"unknown task(s) {bad or tasks}; choose from {', '.join(TASKS)}")
    if not 0 <= val_fraction < 1:
        raise OutputError(f"--val {val_fraction} must be at least 0 and below 1")
    _, job = open_job(out)
    dest = Path(dest_dir).resolve()
    _check_target(dest)
    staging = dest.with_name(f".{dest.name}.partial-{uuid.uuid4().hex[:8]}")
    (staging / "images").mkdir(parents=True)
    try:
        manifest = _write(out, job, fmt, dest, staging, tasks, val_fraction, pipelines)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace(staging, dest)
    return manifest


def _write(out: str, job: dict[str, Any], fmt: str, dest: Path, staging: Path,
           tasks: tuple[str, ...], val_fraction: float, pipelines: list[str] | None) -> dict[str, Any]:
    tally = Tally()
    splits = ("train", "val") if val_fraction > 0 else ("train",)
    names = {(t, s): f"{t}_{s}.jsonl" for t in tasks for s in splits}
    handles = {key: open(staging / name, "w", encoding="utf-8") for key, name in names.items()}
    try:
        for row in _rows(out, pipelines):
            tally.add(row)
            image_name = f"images/{row['id']}.png"
            (staging / image_name).write_bytes(row["image"]["bytes"])
            image = str(dest / image_name) if fmt == "swift" else image_name
            split = split_of(row["id"], val_fraction)
            for task in tasks:
                sample = _sample(fmt, task, row, image)
                handles[(task, split)].write(json.dumps(sample, ensure_ascii=False) + "\n")
                tally.files[names[(task, split)]] += 1
    finally:
        for handle in handles.values():
            handle.close()
    files = [names[key] for key in names if tally.files[names[key]]]
    for key, name in names.items():
        if not tally.files[name]:
            (staging / name).unlink()  # an empty file would make `swift sft` fail
    if fmt != "swift":
        (staging / "dataset_info.json").write_text(json.dumps(dataset_info(fmt, files), indent=2) + "\n")
    manifest = {"format": fmt, "tasks": list(tasks), "val_fraction": val_fraction,
                "job": job.get("fingerprint"), "iccgen": __version__,
                "files": {f: tally.files[f] for f in files}, "rows": sum(tally.pipelines.values())}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (staging / "README.md").write_text(card(job, fmt, dest, tally, manifest))
    return manifest


def _licence_lines(job: dict[str, Any]) -> list[str]:
    config = job.get("config", {})
    lines = []
    for pipeline in job.get("pipelines", []):
        if pipeline == "solid":
            lines.append("- solid: programs drawn from iccgen's own geometry templates; no seed data.")
        elif pipeline == "diversity":
            parent = (config.get("diversity") or {}).get("from") or "this job's earlier pipelines"
            lines.append(f"- diversity: variations of parent programs from {parent}; the parents' terms apply.")
        elif pipeline == "reproduce":
            seeds = (config.get("reproduce") or {}).get("seeds") or "?"
            lines.append(f"- reproduce: re-drawn from seed images at `{seeds}`. iccgen records no licence "
                         "for them: the seeds' own licence governs these derived images and captions.")
    return lines


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def card(job: dict[str, Any], fmt: str, dest: Path, tally: Tally, manifest: dict[str, Any]) -> str:
    """The dataset card, DIR/README.md: nothing in it varies between runs of the same job."""
    files = manifest["files"]
    train = [f for f in files if "_train" in f]
    val = [f for f in files if "_val" in f]
    swift = "swift sft --model Qwen/Qwen3-VL-8B-Instruct --train_type full --dataset " + " ".join(
        str(dest / f) for f in train)
    if val:
        swift += " --val_dataset " + " ".join(str(dest / f) for f in val)
    usage = {"swift": swift,
             "llamafactory": f"dataset_dir: {dest}\ndataset: " + ",".join(f"iccgen_{Path(f).stem}" for f in train)}
    usage["sharegpt"] = usage["llamafactory"]
    parts = [
        "---", "pretty_name: iccgen ICC dataset", "task_categories: [image-to-text]", "---", "",
        "# ICC dataset (STEM image, caption, code)", "",
        f"Exported by `iccgen export` (iccgen {__version__}) in the `{fmt}` layout from the job "
        f"with fingerprint `{job.get('fingerprint')}` (made by iccgen {job.get('iccgen', '?')}). "
        "Every image is the rendering of its program; every caption is grounded in that program.", "",
        "## Files", "",
        _table(("file", "samples"), [(f, n) for f, n in files.items()]), "",
        f"Validation share {manifest['val_fraction']:g}, chosen by a hash of each row's id. "
        "Images are in `images/`.", "",
        "## Rows per pipeline and family", "",
        _table(("pipeline", "family", "rows"), [(p, f, n) for (p, f), n in sorted(tally.families.items())]), "",
        "## Models and prompt versions", "",
        _table(("model", "rows"), sorted(tally.models.items())), "",
        _table(("prompt version", "rows"), sorted(tally.prompt_versions.items())), "",
        "## Sources and licences", "", *_licence_lines(job), "",
        "## Use", "", "```", usage[fmt], "```", "",
    ]
    return "\n".join(parts)
