"""The child: confine itself, wait for one program, run it, render, report, exit.

Forked from the warm pool ahead of demand; everything before `_read_job` happens while no
program is waiting. The report is a frame on `result_fd`; the pool trusts nothing in it
beyond its JSON shape.
"""
from __future__ import annotations

import builtins
import fcntl
import linecache
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from typing import Any, NoReturn

from . import protocol
from .capture import FigureRecorder, OutputTooLarge, TailBuffer, prepare_matplotlib, render
from .confine import Plan, confine
from .limits import Limits
from .tracer import trace_figure

PROGRAM_NAME = "program.py"
JOB_FD, RESULT_FD = 3, 4


def _isolate_fds(job_fd: int, result_fd: int) -> None:
    """Only the two pipes survive, at fixed numbers; stdio points at /dev/null."""
    # Lift both above the target numbers first, so one dup2 cannot overwrite the other.
    job_fd, result_fd = (fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in (job_fd, result_fd))
    os.dup2(job_fd, JOB_FD)
    os.dup2(result_fd, RESULT_FD)
    os.closerange(RESULT_FD + 1, 1 << 16)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > RESULT_FD:
        os.close(null)


def _clean_environment(workdir: str) -> None:
    os.environ.clear()
    os.environ.update(HOME=workdir, TMPDIR=workdir)
    tempfile.tempdir = workdir


def _read_job(max_bytes: int) -> tuple[dict[str, Any], bytes]:
    with os.fdopen(JOB_FD, "rb", closefd=True) as stream:
        frame = protocol.read_frame(stream, max_bytes)
    if frame is None:  # the pool shut down without giving us work
        os._exit(0)
    return frame


def _tail(text: str, limit: int) -> str:
    return text[-limit:]


class LimitReached(BaseException):
    """Raised inside the program when a limit's warning signal arrives.

    A BaseException, so a program's `except Exception` cannot swallow it. The pool's hard kill
    follows a second later for a program stuck in C code or one that catches this anyway.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _arm_limits(limits: Limits) -> None:
    def on_signal(signum: int, _frame: Any) -> None:
        if signum == signal.SIGXCPU:
            raise LimitReached(f"CPU-time limit of {limits.cpu_seconds:g} s exceeded")
        raise LimitReached(f"wall-clock limit of {limits.wall_seconds:g} s exceeded")

    signal.signal(signal.SIGXCPU, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.setitimer(signal.ITIMER_REAL, max(limits.wall_seconds - 1.0, limits.wall_seconds * 0.8))


def _where(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == PROGRAM_NAME:
            return f" (line {frame.lineno})"
    return ""


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, LimitReached):
        return (f"{exc.message}{_where(exc) or ' (while rendering)'}: shrink the computation "
                "(grid sizes, loop counts) and remove sleeps, input() and endless loops")
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {msg}"[:300] + _where(exc)


def _format_traceback(exc: BaseException) -> str:
    """The program's frames only: ours (the exec call) would mislead a repair prompt."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != PROGRAM_NAME:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _classify(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return "syntax_error"
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, LimitReached):
        return "timeout"
    return "runtime_error"


def _execute(code: str, report: dict[str, Any]) -> bool:
    """Runs the program; False (and the report filled in) when it failed."""
    linecache.cache[PROGRAM_NAME] = (len(code), None, code.splitlines(True), PROGRAM_NAME)
    try:
        compiled = compile(code, PROGRAM_NAME, "exec")
        exec(compiled, {"__name__": "__main__", "__builtins__": builtins, "__file__": PROGRAM_NAME})
    except SystemExit as exc:
        if exc.code in (None, 0):
            return True
        report.update(status="runtime_error", error=f"the program called sys.exit({exc.code!r})")
        return False
    except BaseException as exc:  # the program's own failure, whatever it is, is a result
        report.update(status=_classify(exc), error=_error_line(exc),
                      traceback=_format_traceback(exc))
        return False
    return True


def _render_and_trace(recorder: FigureRecorder, limits: Limits, want_trace: bool,
                      report: dict[str, Any]) -> bytes:
    picked = recorder.pick(limits.figure_policy)
    if picked is None:
        report.update(status="no_figure", error="the program drew no figure: draw with matplotlib "
                      "and leave the figure open, or call plt.savefig()/plt.show()")
        return b""
    fig, style = picked
    t0 = time.perf_counter()
    rendering = render(fig, style, limits)
    report["durations"]["render"] = time.perf_counter() - t0
    if want_trace:
        t0 = time.perf_counter()
        ox, oy = rendering.offset_px
        top = rendering.height_px + oy

        def to_px(x: float, y: float) -> tuple[float, float]:
            return x - ox, top - y

        if rendering.offset_px != (0.0, 0.0):
            # The cropped draw left positions in the crop's frame; lay out the whole canvas again.
            fig.canvas.draw()
        image = {"dpi": rendering.dpi, "origin": "top-left", "units": "pixels"}
        report["trace"] = trace_figure(fig, to_px, image, limits.max_trace_bytes)
        report["durations"]["trace"] = time.perf_counter() - t0
    report["status"] = "ok"
    return rendering.png


def _run(code: str, want_trace: bool, limits: Limits, report: dict[str, Any]) -> bytes:
    import numpy as np

    recorder = FigureRecorder()
    prepare_matplotlib(limits)
    recorder.install()
    # Unseeded randomness is seeded, so a program renders the same image every time it runs.
    random.seed(0)
    np.random.seed(0)
    t0 = time.perf_counter()
    try:
        _arm_limits(limits)
        ok = _execute(code, report)
        report["durations"]["exec"] = time.perf_counter() - t0
        return _render_and_trace(recorder, limits, want_trace, report) if ok else b""
    except LimitReached as exc:
        report.update(status="timeout", error=_error_line(exc))
    except OutputTooLarge as exc:
        report.update(status="output_too_large", error=str(exc))
    except MemoryError:
        report.update(status="memory", error="out of memory while rendering the figure")
    except Exception as exc:  # drawing runs the program's artists: their errors are its errors
        report.update(status="runtime_error", error="while rendering: " + _error_line(exc),
                      traceback=_format_traceback(exc) or traceback.format_exc())
    finally:
        # The report must still get out: the hard CPU limit stays as the backstop.
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    return b""


def child_main(job_fd: int, result_fd: int, workdir: str, limits: Limits, plan: Plan,
               pool_pid: int) -> NoReturn:
    try:
        _isolate_fds(job_fd, result_fd)
        _clean_environment(workdir)
        confine(limits, plan, workdir, pool_pid)
        header, code_bytes = _read_job(limits.max_code_bytes + 4096)
        out, err = TailBuffer(limits.tail_chars), TailBuffer(limits.tail_chars)
        sys.stdout, sys.stderr = out, err
        report: dict[str, Any] = {"status": "runtime_error", "error": "", "durations": {}}
        png = _run(code_bytes.decode("utf-8", "replace"), bool(header.get("trace")), limits, report)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        report.update(stdout=out.getvalue(), stderr=err.getvalue(),
                      traceback=_tail(report.get("traceback", ""), limits.tail_chars))
        protocol.write_all(RESULT_FD, protocol.encode(report, png))
    except BaseException:
        os._exit(70)
    # Skips the program's atexit handlers and finalizers.
    os._exit(0)
