"""`iccgen render` and `iccgen doctor`: the sandbox as a user meets it."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from iccgen.errors import InputError, OutputError


def render_file(program: str, output: str, trace_path: str | None, dpi: int | None, console: Console) -> int:
    from sandbox import Limits, Sandbox

    try:
        code = Path(program).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{program}: cannot read the program ({e})") from None
    limits = Limits() if dpi is None else dataclasses.replace(Limits(), dpi=dpi)
    with Sandbox(limits=limits, workers=1) as sb:
        result = sb.run(code, trace=trace_path is not None)
    if not result.ok:
        console.print(f"[red]{result.status.value}[/red]: {result.error}", highlight=False)
        if result.traceback_tail:
            console.print(result.traceback_tail, highlight=False, markup=False)
        return 1
    try:
        Path(output).write_bytes(result.png)
        if trace_path:
            Path(trace_path).write_text(json.dumps(result.trace, indent=1))
    except OSError as e:
        raise OutputError(f"cannot write the output: {e}") from None
    console.print(
        f"wrote {output} ({result.width}×{result.height}, {result.png_size} bytes, "
        f"{result.durations.get('total', 0):.2f} s)" + (f" and {trace_path}" if trace_path else "")
    )
    return 0


def print_doctor(console: Console) -> int:
    from sandbox import doctor

    table = Table(title="sandbox isolation layers on this machine")
    table.add_column("layer")
    table.add_column("active")
    table.add_column("detail")
    layers = doctor()
    for layer in layers:
        mark = "[green]yes[/green]" if layer.active else "[yellow]no[/yellow]"
        table.add_row(layer.name, mark, layer.detail)
    console.print(table)
    missing = [layer.name for layer in layers if not layer.active and layer.name in _required()]
    if missing:
        console.print(f"[red]not confined[/red]: {', '.join(missing)} inactive (see README, sandbox)")
    return 1 if missing else 0


def _required() -> set[str]:
    # A non-root pool cannot switch to nobody, but its programs already run unprivileged.
    required = {"forkserver", "probe", "bubblewrap", "seccomp"}
    return required | {"nobody"} if os.geteuid() == 0 else required
