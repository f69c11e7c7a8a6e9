"""`iccgen stats`: each pipeline's funnel, candidates drawn to rows kept, from the shards' stats.

Every reject reason belongs to the stage that dropped the candidate. The stages are listed in the
order the steps run (`pipelines.steps.realise`): grounding is checked before the (job-wide,
costlier to undo) near-duplicate admission, so "grounded" comes before "unique".
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from iccgen.report import open_job, quality, select_pipelines

# (stage, predicate on a reject reason): a candidate that passes a stage goes on to the next.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("executed", ("mutation_failed", "no_code", "no_caption", "model:", "seed:", "exec:")),
    ("similar to its seed", ("dissimilar",)),
    ("passed image and text checks", ("blank_image", "too_small", "bad_aspect", "text_outside",
                                      "text_overlap")),
    ("grounded", ("ungrounded", "ungraded")),
    ("reproducible", ("not_reproducible",)),
    ("passed the judges", ("judge:",)),
    ("unique", ("near_duplicate",)),
]


# Stages shown even when they dropped nothing; the others only where a pipeline has them.
ALWAYS = {"executed", "passed image and text checks", "grounded", "unique"}


def stage_of(reason: str) -> str:
    for stage, tokens in STAGES:
        if any(reason == t or (t.endswith(":") and reason.startswith(t)) for t in tokens):
            return stage
    return "other checks"


@dataclass
class Stage:
    name: str
    remaining: int
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> candidates dropped here


@dataclass
class Funnel:
    pipeline: str
    units: int
    candidates: int
    kept: int
    stages: list[Stage]
    worker_seconds: float
    wall_seconds: float | None  # first unit started to last unit finished (newer shards only)
    tokens: int
    #: over the kept rows: graded and ungraded captions, median words, claims per caption
    captions: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float | None:
        return self.kept / self.wall_seconds if self.wall_seconds else None

    @property
    def tokens_per_row(self) -> float | None:
        return self.tokens / self.kept if self.kept and self.tokens else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows_per_s, "tokens_per_row": self.tokens_per_row}


def funnel(stats: list[dict[str, Any]], pipeline: str) -> Funnel:
    rejects: Counter[str] = sum((Counter(s.get("rejects", {})) for s in stats), Counter())
    candidates = sum(s.get("attempts", 0) for s in stats)
    kept = sum(s.get("kept", 0) for s in stats)
    by_stage: dict[str, dict[str, int]] = {}
    for reason, n in rejects.most_common():
        by_stage.setdefault(stage_of(reason), {})[reason] = n
    remaining, stages = candidates, []
    for name in [s for s, _ in STAGES] + ["other checks"]:
        dropped = by_stage.get(name, {})
        remaining -= sum(dropped.values())
        if name in ALWAYS or dropped:
            stages.append(Stage(name, remaining, dropped))
    usage: Counter[str] = sum((Counter(s.get("usage", {})) for s in stats), Counter())
    spans = [(s["started"], s["finished"]) for s in stats if "started" in s and "finished" in s]
    wall = max(f for _, f in spans) - min(b for b, _ in spans) if spans else None
    return Funnel(pipeline, len(stats), candidates, kept, stages,
                  round(sum(s.get("seconds", 0.0) for s in stats), 3),
                  round(wall, 3) if wall else None,
                  usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))


def funnels(out: str) -> list[Funnel]:
    store, job = open_job(out)
    found = []
    for p in select_pipelines(out, store, job, None):
        f = funnel([s for _, s in store.iter_stats(p)], p)
        q = quality(store, p)
        f.captions = {"graded": q.graded, "ungraded": q.ungraded, "median_words": q.median_words,
                      "claims_per_caption": q.mean_claims}
        found.append(f)
    return found


def print_funnels(results: list[Funnel], console: Console) -> None:
    for f in results:
        table = Table(title=f"{f.pipeline}: {f.units} units", title_justify="left")
        for col in ("stage", "candidates", "share", "dropped here, by reason"):
            table.add_column(col, justify="right" if col in ("candidates", "share") else "left")
        table.add_row("candidates", str(f.candidates), "100%" if f.candidates else "-", "")
        for s in f.stages:
            reasons = ", ".join(f"{r} {n}" for r, n in s.dropped.items()) or "-"
            table.add_row(s.name, str(s.remaining), _share(s.remaining, f.candidates), reasons)
        table.add_row("[bold]kept[/bold]", f"[bold]{f.kept}[/bold]", _share(f.kept, f.candidates), "")
        console.print(table)
        speed = f"{f.rows_per_s:.2f} kept rows/s over {f.wall_seconds:.1f} s" if f.rows_per_s else "-"
        tokens = f"{f.tokens_per_row:,.0f}" if f.tokens_per_row else "none (no model calls)"
        console.print(f"  throughput: {speed}; {f.worker_seconds:.1f} unit-seconds of work; "
                      f"model tokens per kept row: {tokens}", highlight=False)
        if f.captions.get("median_words") is not None:
            c = f.captions
            claims = "-" if c["claims_per_caption"] is None else f"{c['claims_per_caption']:.1f}"
            console.print(f"  captions: median {c['median_words']:g} words, {claims} checkable claims "
                          f"each; {c['graded']} graded, {c['ungraded']} ungraded (no checkable claim)",
                          highlight=False)


def _share(n: int, of: int) -> str:
    return f"{n / of:.1%}" if of else "-"


def plot_funnels(results: list[Funnel], path: str) -> None:
    """One horizontal bar chart per pipeline: candidates left after each stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(9, 0.5 + 0.45 * 10 * len(results)),
                             squeeze=False)
    for ax, f in zip(axes[:, 0], results):
        names = ["candidates"] + [s.name for s in f.stages] + ["kept"]
        values = [f.candidates] + [s.remaining for s in f.stages] + [f.kept]
        bars = ax.barh(names[::-1], values[::-1], color=["#2a9d8f"] + ["#8ab6d6"] * (len(names) - 2) + ["#264653"])
        for bar, v in zip(bars, values[::-1]):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v}", va="center", fontsize=9)
        ax.set_title(f"{f.pipeline}: {f.kept} kept of {f.candidates} candidates", loc="left")
        ax.set_xlim(0, max(values + [1]) * 1.12)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="each pipeline's funnel: candidates to kept rows, by reason",
                       description="Per pipeline: candidates -> executed -> checks -> grounded -> "
                       "unique -> kept, with the reasons, throughput and model tokens per kept row.")
    p.add_argument("out", help="the job's output folder or URI")
    p.add_argument("--json", action="store_true", help="print the funnels as JSON on stdout")
    p.add_argument("--plot", metavar="PNG", help="also draw the funnels into this PNG")
    p.set_defaults(func=_cmd_stats)


def _cmd_stats(args: argparse.Namespace, console: Console) -> int:
    results = funnels(args.out)
    if args.json:
        print(json.dumps([f.to_dict() for f in results], indent=2))
    else:
        print_funnels(results, console)
    if args.plot:
        plot_funnels(results, args.plot)
        console.print(f"funnel drawn: {args.plot}")
    return 0
