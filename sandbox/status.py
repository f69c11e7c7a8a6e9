"""How a child ended, as an ExecResult status and a message saying what to do.

Runs in the pool. The child's own report is believed only for what it cannot use against us:
its status must be one we know, its strings are cut to size, and the image size is read from
the PNG header rather than from the report.
"""
from __future__ import annotations

import json
import os
import signal
import struct
from typing import TYPE_CHECKING, Any

from .limits import Limits

if TYPE_CHECKING:
    from .server import Slot

_STATUSES = {"ok", "syntax_error", "runtime_error", "timeout", "memory", "no_figure",
             "output_too_large", "killed"}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int] | None:
    if len(png) < 24 or not png.startswith(_PNG_MAGIC) or png[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", png[16:24])


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _from_report(report: dict[str, Any], png: bytes, limits: Limits) -> tuple[dict[str, Any], bytes]:
    status = report.get("status")
    status = status if isinstance(status, str) and status in _STATUSES else "killed"
    out = {"status": status, "error": str(report.get("error", ""))[:1000]}
    for key in ("stdout", "stderr", "traceback"):
        out[key] = str(report.get(key, ""))[-limits.tail_chars:]
    durations = report.get("durations")
    out["durations"] = {k: float(v) for k, v in durations.items()
                        if isinstance(v, (int, float))} if isinstance(durations, dict) else {}
    trace = report.get("trace")
    out["trace"] = trace if isinstance(trace, dict) else None
    if status != "ok":
        return out, b""
    if out["trace"] is not None and len(json.dumps(out["trace"])) > limits.max_trace_bytes:
        out.update(status="output_too_large", trace=None,
                   error=f"the trace exceeds Limits.max_trace_bytes={limits.max_trace_bytes}")
        return out, b""
    size = png_size(png)
    if size is None:
        out.update(status="killed", error="the program tampered with the sandbox's report (no PNG)")
        return out, b""
    if len(png) > limits.max_png_bytes:
        out.update(status="output_too_large", error=f"PNG of {len(png)} bytes exceeds {limits.max_png_bytes}")
        return out, b""
    out["width"], out["height"] = size
    return out, png


def _from_exit(slot: "Slot", limits: Limits) -> dict[str, Any]:
    st = slot.wait_status
    if slot.kill_reason == "wall":
        return {"status": "timeout", "error": f"wall-clock limit of {limits.wall_seconds:g} s exceeded: "
                "remove blocking calls (input, sleep, infinite loops) and heavy loops"}
    if slot.kill_reason == "output":
        return {"status": "output_too_large", "error": "the program's output exceeded the sandbox's "
                "bounds (the PNG, the trace or the report)"}
    if slot.kill_reason == "malformed":
        return {"status": "killed", "error": "the program wrote a malformed report on the sandbox's "
                "pipe (not JSON, or nested too deep): do not write to inherited file descriptors"}
    if slot.kill_reason == "killed":
        return {"status": "killed", "error": "the sandbox was closed while the program ran"}
    if st is not None and os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and slot.cpu_seconds >= limits.cpu_seconds - 0.5):
            return {"status": "timeout", "error": f"CPU-time limit of {limits.cpu_seconds:g} s exceeded: "
                    "reduce the amount of computation (grid sizes, loop counts)"}
        if slot.maxrss_kb * 1024 >= 0.9 * limits.memory_mb * 1024 * 1024:
            return {"status": "memory", "error": f"killed by {_signal_name(sig)} near the memory limit "
                    f"of {limits.memory_mb} MB: use smaller arrays"}
        return {"status": "killed", "error": f"the program's process was killed by {_signal_name(sig)}"}
    code = os.WEXITSTATUS(st) if st is not None else -1
    return {"status": "runtime_error", "error": f"the program ended the process (exit status {code}) "
            "before its figure was rendered: do not call os._exit or close the sandbox's pipes"}


def outcome(slot: "Slot", limits: Limits) -> tuple[dict[str, Any], bytes]:
    if slot.frame is not None and slot.kill_reason not in ("output", "malformed"):
        return _from_report(*slot.frame, limits)
    base = {"stdout": "", "stderr": "", "traceback": "", "trace": None, "durations": {}}
    return {**base, **_from_exit(slot, limits)}, b""
