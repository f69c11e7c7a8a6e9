"""The job's progress bar and closing summary (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from iccgen.stage import StageResult


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("kept · units {task.fields[units]} · rejects {task.fields[rejects]}"),
        TimeElapsedColumn(),
        console=console,
    )


def summarise(results: list[StageResult], uri: str, console: Console, seconds: float) -> None:
    table = Table(title=f"iccgen job → {uri}  ({seconds:.0f} s)")
    for col in ("pipeline", "units", "rows", "shortfall", "rejects by reason", "failed"):
        table.add_column(col)
    for r in results:
        rejects = ", ".join(f"{k} {v}" for k, v in r.rejects.most_common()) or "-"
        table.add_row(
            r.pipeline,
            f"{r.skipped + r.committed}/{r.planned}" + (f" ({r.skipped} resumed)" if r.skipped else ""),
            str(r.rows),
            str(r.shortfall),
            rejects,
            str(len(r.failed)),
        )
    console.print(table)
    for r in results:
        for key, why in r.failed.items():
            console.print(f"[red]failed[/red] {key}: {escape(why)}", highlight=False)
