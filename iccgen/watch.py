"""`iccgen status OUT --watch`: the status view, redrawn while a job runs."""

from __future__ import annotations

import io
import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from iccgen.report import all_committed, open_job, print_status


def status_text(out: str, width: int) -> Text:
    """What `iccgen status` prints, captured (it reads the output folder afresh each time)."""
    buffer = Console(file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor")
    print_status(out, buffer)
    return Text.from_ansi(buffer.file.getvalue())


def finished(out: str) -> bool:
    """Every pipeline of the job planned, and all its planned units committed."""
    store, job = open_job(out)
    return all_committed(store, job, job.get("pipelines", []))


def watch(out: str, console: Console, every_s: float = 2.0) -> int:
    """Redraw until the job is finished or Ctrl-C (which only stops watching)."""
    try:
        with Live(status_text(out, console.width), console=console, auto_refresh=False) as live:
            while not finished(out):
                time.sleep(every_s)
                live.update(status_text(out, console.width), refresh=True)
    except KeyboardInterrupt:
        pass
    return 0
