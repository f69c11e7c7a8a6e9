"""`iccgen render` and `iccgen doctor`: the sandbox as a user meets it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from iccgen.errors import ConfinementMissing, InputError, OutputError


def render_file(program: str, output: str, trace_path: str | None, dpi: int | None, console: Console,
                unconfined: bool = False) -> int:
    from sandbox import ConfinementError, Limits, Sandbox

    try:
        code = Path(program).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{program}: cannot read the program ({e})") from None
    limits = Limits() if dpi is None else dataclasses.replace(Limits(), dpi=dpi)
    try:
        with Sandbox(limits=limits, workers=1, unconfined=unconfined) as sb:
            if not sb.info()["confined"]:
                console.print("[yellow]warning[/yellow]: running UNCONFINED, as --unconfined-sandbox asked")
            result = sb.run(code, trace=trace_path is not None)
    except ConfinementError as e:
        raise ConfinementMissing(f"{e}; or, for a trusted program only, pass --unconfined-sandbox") from None
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
    """The layers table; exit status 1 when a required layer is missing (jobs would refuse)."""
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
    if layers[0].active:
        return 0
    console.print("[red]confinement missing[/red]: jobs refuse to start here; "
                  "the table says which layer and what to do", highlight=False)
    return 1
