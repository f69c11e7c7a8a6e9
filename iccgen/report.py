"""What `iccgen status` and `iccgen inspect` show: read-only views of a job's output."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iccgen import quarantine
from iccgen.config import PipelineName
from iccgen.errors import OutputError
from iccgen.journal import recover
from iccgen.journal_store import JournalStore
from iccgen.store import ShardStore
from iccgen.unit import UnitSpec

CODE_HEAD_LINES = 12


def open_job(out: str) -> tuple[ShardStore, dict]:
    store = ShardStore(out)
    job = store.read_job()
    if job is None:
        raise OutputError(f"{out}: no iccgen job here (no _job.json); run `iccgen run` first")
    return store, job


def select_pipelines(out: str, store: ShardStore, job: dict, wanted: list[str] | None) -> list[str]:
    """The pipelines asked for, or all the job's; a name the job does not have is an OutputError,
    so a typo is not reported as an empty pipeline."""
    ours = job["pipelines"] if "pipelines" in job else store.pipelines()  # no listing when recorded
    for name in wanted or []:
        if name in ours:
            continue
        if name not in get_args(PipelineName):
            raise OutputError(f"{out}: there is no pipeline {name!r} (iccgen's pipelines: "
                              f"{', '.join(get_args(PipelineName))}); this job's: {', '.join(ours)}")
        raise OutputError(f"{out}: this job did not run {name}; its pipelines: {', '.join(ours)}")
    return list(wanted) if wanted else ours


def all_committed(store: ShardStore, job: dict, pipelines: list[str]) -> bool:
    """Every one of `pipelines` planned, and all its planned units committed."""
    planned = job.get("planned", {})
    return all(p in planned and len(store.committed_units(p)) >= planned[p] for p in pipelines)


def no_rows(out: str, store: ShardStore, job: dict, pipelines: list[str]) -> OutputError:
    """The error for `pipelines` holding no rows: "yet" only while the job could still make some."""
    names = ", ".join(pipelines)
    if all_committed(store, job, pipelines):
        return OutputError(f"{out}: the job finished and kept no rows in {names}; see why with "
                           f"`iccgen inspect {out} --rejects` or `iccgen status {out}`")
    return OutputError(f"{out}: no committed rows yet in {names}; the job has not finished: "
                       f"`iccgen status {out}` shows its progress")


def print_status(out: str, console: Console) -> None:
    store, job = open_job(out)
    table = Table(title=f"{out}  (job {job['fingerprint']}, created {job.get('created', '?')})")
    for col in ("pipeline", "units done", "pending", "in progress", "rows", "attempts", "shortfall"):
        table.add_column(col)
    pipelines = select_pipelines(out, store, job, None)
    rejects: dict[str, Counter[str]] = {}
    for pipeline in pipelines:
        stats = [s for _, s in store.iter_stats(pipeline)]
        planned = job.get("planned", {}).get(pipeline)
        pending = "not started" if planned is None else str(planned - len(stats))
        rejects[pipeline] = sum((Counter(s.get("rejects", {})) for s in stats), Counter())
        table.add_row(
            pipeline,
            str(len(stats)),
            pending,
            _in_progress(store, pipeline),
            str(sum(s.get("kept", 0) for s in stats)),
            str(sum(s.get("attempts", 0) for s in stats)),
            str(sum(s.get("shortfall", 0) for s in stats)),
        )
    console.print(table)
    for pipeline, counts in rejects.items():
        listed = ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "none"
        console.print(f"rejects by reason, {pipeline}: {listed}", highlight=False)
    print_quality(store, pipelines, console)
    for key, held in job.get(quarantine.KEY, {}).items():
        console.print(f"[red]quarantined[/red] {key} after {held['tries']} tries ({held['at']}): "
                      f"{escape(held['reason'])}; the next run tries it once more", highlight=False)
    temps = store.temporaries()
    if temps:
        console.print(f"{len(temps)} temporary file(s) from an interrupted run (swept on resume)")
    cfg = job.get("config", {})
    console.print(
        f"config: pipelines={job.get('pipelines')} n={cfg.get('n')} seed={cfg.get('seed')} "
        f"shard_size={cfg.get('shard_size')} dedup≤{cfg.get('dedup', {}).get('threshold')} "
        f"min_grounding={cfg.get('qc', {}).get('min_grounding', '-')}"
    )


# Reject reasons grouped by the check that gave them ("exec:timeout" -> "exec").
CHECKS = {"blank_image": "image", "too_small": "image", "bad_aspect": "image",
          "text_outside": "texts", "text_overlap": "texts", "not_reproducible": "reproducible",
          "near_duplicate": "dedup", "ungrounded": "grounding",
          "ungraded": "grounding"}


def check_of(reason: str) -> str:
    return CHECKS.get(reason, reason.split(":", 1)[0])


@dataclass(frozen=True)
class Quality:
    """Caption grounding and training targets over a pipeline's kept rows."""

    rows: int
    graded: int  # rows whose caption makes checkable claims
    #: rows whose caption makes none, so it has no score (older shards stored 1.0 for them);
    #: rows - graded - ungraded have no grounding record at all (the oldest shards)
    ungraded: int
    with_ungrounded: int
    mean_score: float | None  # over the graded rows
    code_targets: int  # rows holding an explanatory code target
    drafted: int  # rows whose caption a model drafted and the program corrected
    refined: int  # of those, rows that kept the refined caption (not the draft)
    median_words: float | None  # caption length
    mean_claims: float | None  # checkable claims per caption, over rows with a record

    @property
    def ungrounded_rate(self) -> float | None:
        return self.with_ungrounded / self.graded if self.graded else None


def quality(store: ShardStore, pipeline: str) -> Quality:
    table = store.read(pipeline, columns=["qc", "meta", "caption"])
    qcs = [json.loads(c or "{}") for c in (table.column("qc").to_pylist() if table else [])]
    metas = [json.loads(c or "{}") for c in (table.column("meta").to_pylist() if table else [])]
    captions = table.column("caption").to_pylist() if table else []
    records = [q["grounding"] for q in qcs if q.get("grounding")]
    grades = [g for g in records if g.get("claims")]
    targets = sum("code_target" in q and "dropped" not in q["code_target"] for q in qcs)
    drafted = [m["caption"] for m in metas if isinstance(m.get("caption"), dict)]
    return Quality(len(qcs), len(grades), len(records) - len(grades),
                   sum(bool(g["ungrounded"]) for g in grades),
                   float(np.mean([g["score"] for g in grades])) if grades else None, targets,
                   len(drafted), sum(d.get("chosen") == "refined" for d in drafted),
                   float(np.median([len(c.split()) for c in captions])) if captions else None,
                   float(np.mean([g["claims"] for g in records])) if records else None)


_QUALITY_ROWS = ("rows graded", "rows ungraded", "rows with an ungrounded claim",
                 "mean grounding score", "words per caption (median)", "claims per caption",
                 "captions refined", "code targets", "rejects per check")


def _quality_cells(store: ShardStore, pipeline: str, q: Quality) -> list[str]:
    rejects: Counter[str] = Counter()
    for _, s in store.iter_stats(pipeline):
        for reason, n in s.get("rejects", {}).items():
            rejects[check_of(reason)] += n
    rate = "-" if q.ungrounded_rate is None else f"{q.with_ungrounded} ({q.ungrounded_rate:.1%})"
    return [f"{q.graded}/{q.rows}", f"{q.ungraded}/{q.rows}", rate,
            "-" if q.mean_score is None else f"{q.mean_score:.3f}",
            "-" if q.median_words is None else f"{q.median_words:g}",
            "-" if q.mean_claims is None else f"{q.mean_claims:.1f}",
            f"{q.refined}/{q.drafted}" if q.drafted else "-", f"{q.code_targets}/{q.rows}",
            ", ".join(f"{k} {v}" for k, v in rejects.most_common()) or "-"]


def print_quality(store: ShardStore, pipelines: list[str], console: Console) -> None:
    # A measure per row and a pipeline per column: ten measures side by side do not fit 80 columns.
    table = Table(title="quality: caption grounding and targets over kept rows, rejects per check")
    table.add_column("")
    graded = with_ungrounded = 0
    score_sum = 0.0
    columns = []
    for pipeline in pipelines:
        q = quality(store, pipeline)
        graded, with_ungrounded = graded + q.graded, with_ungrounded + q.with_ungrounded
        score_sum += (q.mean_score or 0.0) * q.graded
        table.add_column(pipeline)
        columns.append(_quality_cells(store, pipeline, q))
    for name, *cells in zip(_QUALITY_ROWS, *columns):
        table.add_row(name, *cells)
    console.print(table)
    if graded:
        console.print(f"dataset: {with_ungrounded} of {graded} graded rows have an ungrounded claim "
                      f"({with_ungrounded / graded:.2%}); mean grounding score {score_sum / graded:.3f}")


def _in_progress(store: ShardStore, pipeline: str) -> str:
    """Units a killed run left half done: their finished items are kept in the journal."""
    partial = JournalStore(store).units(pipeline) - store.committed_units(pipeline)
    if not partial:
        return "-"
    items = sum(len(recover(store, UnitSpec(pipeline, u, 0, 0)).results) for u in partial)
    return f"{len(partial)} unit(s), {items} items journaled"


def print_samples(
    out: str, console: Console, n: int, pipeline: str | None, seed: int, images: str
) -> None:
    store, job = open_job(out)
    names = select_pipelines(out, store, job, [pipeline] if pipeline else None)
    tables = [t for t in (store.read(p) for p in names) if t is not None and t.num_rows]
    if not tables:
        raise no_rows(out, store, job, names)
    rows = [r for t in tables for r in t.to_pylist()]
    picks = np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False)
    folder = Path(images)
    folder.mkdir(parents=True, exist_ok=True)
    for i in sorted(picks):
        row = rows[i]
        path = folder / f"{row['id']}.png"
        path.write_bytes(row["image"]["bytes"])
        head = "\n".join(row["code"].splitlines()[:CODE_HEAD_LINES])
        console.rule(f"[bold]{row['id']}[/bold]  {row.get('family') or row['pipeline']}")
        console.print(f"[bold]caption[/bold]: {escape(row['caption'])}", highlight=False)
        drafted = json.loads(row.get("meta") or "{}").get("caption")
        if isinstance(drafted, dict) and drafted.get("chosen") == "refined":
            console.print(f"[bold]draft it corrects[/bold]: {escape(drafted['draft'])}", highlight=False)
        if row.get("question"):
            console.print(f"[bold]question[/bold]: {escape(row['question'])}  "
                          f"[bold]answer[/bold]: {escape(row['answer'] or '')}", highlight=False)
        console.print(f"[bold]code[/bold] (first {CODE_HEAD_LINES} lines):", highlight=False)
        console.print(head, highlight=False, markup=False)
        if row.get("code_target"):
            explained = row["code_target"].split("```", 1)[0].strip()
            console.print(f"[bold]code target[/bold] (its prose; the program follows verbatim):\n"
                          f"{escape(explained)}", highlight=False)
        console.print(f"[bold]image[/bold]: {path}  ({row['width']}×{row['height']})")


def print_rejects(out: str, console: Console, pipeline: str | None) -> None:
    store, job = open_job(out)
    for name in select_pipelines(out, store, job, [pipeline] if pipeline else None):
        stats = list(store.iter_stats(name))
        samples = [{**r, "unit": unit} for unit, s in stats for r in s.get("reject_samples", [])]
        counts = sum((Counter(s.get("rejects", {})) for _, s in stats), Counter())
        console.rule(f"[bold]{name}[/bold]: {sum(counts.values())} rejects")
        for reason, count in counts.most_common():
            console.print(f"  {reason}: {count}")
            for r in [s for s in samples if s["reason"] == reason][:3]:
                console.print(f"    unit {r['unit']} item {r['item']} attempt {r['attempt']}: "
                              f"{escape(r['detail'])}",
                              highlight=False)
