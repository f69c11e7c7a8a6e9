"""Sandbox: the driver-side handle on one warm pool process.

Thread-safe and asyncio-friendly: run() blocks, arun() awaits; both hand the job to a writer
thread, and a supervisor thread reads results, restarts the pool if it dies, and retries the
jobs that were in it once. Nothing here runs untrusted code or parses anything but JSON.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import queue
import subprocess
import threading
import time
import weakref
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from . import jail, protocol
from .errors import CodeTooLarge, ConfinementError, SandboxClosed, SandboxError, SandboxStartError
from .limits import Limits
from .result import ExecResult, Status

_MAX_ATTEMPTS = 2
_START_FAILURES = 3
_READY_TIMEOUT_S = 120.0


@dataclass
class _Job:
    id: int
    code: bytes
    trace: bool
    future: Future
    submitted: float
    attempts: int = 0
    generation: int = -1


@dataclass
class _State:
    """Everything the threads share; the Sandbox object itself can be collected (and closed)."""

    limits: Limits
    workers: int
    unconfined: bool
    cond: threading.Condition = field(default_factory=threading.Condition)
    pending: dict[int, _Job] = field(default_factory=dict)
    outbox: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    proc: subprocess.Popen | None = None
    generation: int = 0
    ready: dict[str, Any] | None = None
    launch: jail.Launch | None = None
    closing: bool = False
    fatal: SandboxError | None = None
    restarts: int = 0
    stderr_tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=40))
    ids: itertools.count = field(default_factory=itertools.count)

    # -- pool process lifecycle -----------------------------------------------------------------
    def start(self) -> subprocess.Popen:
        self.launch = jail.launch(self.unconfined)
        config = json.dumps({"limits": self.limits.to_dict(), "workers": self.workers,
                             "unconfined": self.unconfined})
        proc = subprocess.Popen(
            self.launch.argv + [config], env=self.launch.env, cwd="/", stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, bufsize=0)
        threading.Thread(target=self.drain_stderr, args=(proc,), daemon=True,
                         name="sandbox-stderr").start()
        return proc

    def drain_stderr(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            self.stderr_tail.append(line.decode(errors="replace").rstrip()[:500])

    def supervise(self) -> None:
        failures = 0
        while not self.closing:
            try:
                proc = self.start()
            except ConfinementError as exc:
                self.give_up(exc)
                return
            except (OSError, RuntimeError) as exc:
                self.give_up(SandboxStartError(f"cannot start the sandbox pool: {exc}"))
                return
            with self.cond:
                self.proc, self.generation = proc, self.generation + 1
                self.cond.notify_all()
            got_ready = self.read_results(proc)
            self.reap(proc)
            if self.fatal is not None:
                return
            failures = 0 if got_ready else failures + 1
            if failures >= _START_FAILURES and not self.closing:
                tail = "\n".join(list(self.stderr_tail)[-15:])
                self.give_up(SandboxStartError(
                    f"the sandbox pool died {failures} times while starting; its stderr:\n{tail}"))
                return
            self.restarts += 0 if self.closing else 1

    def read_results(self, proc: subprocess.Popen) -> bool:
        max_frame = self.limits.max_png_bytes + 4 * self.limits.max_trace_bytes + 1_000_000
        got_ready = False
        while True:
            try:
                frame = protocol.read_frame(proc.stdout, max_frame)
            except (protocol.FrameError, OSError, ValueError):
                frame = None
            if frame is None:
                return got_ready
            header, blob = frame
            if header.get("type") == "ready":
                got_ready = True
                with self.cond:
                    self.ready = header
                    self.cond.notify_all()
            elif header.get("type") == "result":
                self.complete(header, blob)
            elif header.get("type") == "refused":
                self.give_up(ConfinementError(
                    f"the sandbox pool refused to start: a required layer is missing: "
                    f"{header.get('why')}. To fix: {jail.HOW_TO_CONFINE}"))
                return got_ready

    def reap(self, proc: subprocess.Popen) -> None:
        """The pool ended: jobs that were inside it get one more try in the next pool."""
        try:
            proc.kill()
        except OSError:
            pass
        proc.wait()
        with self.cond:
            dead = self.generation
            self.proc, self.ready = None, None
            for job in list(self.pending.values()):
                if job.generation != dead:
                    continue
                job.attempts += 1
                job.generation = -1
                if job.attempts >= _MAX_ATTEMPTS or self.closing:
                    del self.pending[job.id]
                    _resolve(job.future, _pool_died(job, self.closing))
                else:
                    self.outbox.put(job)

    def give_up(self, error: SandboxError) -> None:
        with self.cond:
            self.fatal = error
            jobs, self.pending = list(self.pending.values()), {}
            self.cond.notify_all()
        for job in jobs:
            _resolve(job.future, error)

    # -- jobs ------------------------------------------------------------------------------------
    def submit(self, code: str, trace: bool) -> Future:
        data = code.encode("utf-8", "replace")
        if len(data) > self.limits.max_code_bytes:
            raise CodeTooLarge(f"program of {len(data)} bytes exceeds Limits.max_code_bytes="
                               f"{self.limits.max_code_bytes}")
        job = _Job(next(self.ids), data, bool(trace), Future(), time.monotonic())
        with self.cond:
            if self.closing:
                raise SandboxClosed("this Sandbox is closed; create a new one")
            if self.fatal is not None:
                raise self.fatal
            self.pending[job.id] = job
        self.outbox.put(job)
        return job.future

    def write_jobs(self) -> None:
        while True:
            job = self.outbox.get()
            if job is None:
                return
            with self.cond:
                while self.proc is None and not (self.closing or self.fatal):
                    self.cond.wait()
                if self.closing or self.fatal or job.id not in self.pending:
                    continue
                proc, job.generation = self.proc, self.generation
            frame = protocol.encode({"type": "run", "id": job.id, "trace": job.trace}, job.code)
            try:
                proc.stdin.write(frame)
            except (OSError, ValueError):
                pass  # the pool died; reap() gives the job its second try

    def complete(self, header: dict[str, Any], png: bytes) -> None:
        with self.cond:
            job = self.pending.pop(header.get("id"), None)
        if job is not None:
            _resolve(job.future, _to_result(header, png, job))

    def close(self) -> None:
        with self.cond:
            if self.closing:
                return
            self.closing = True
            proc = self.proc
            self.cond.notify_all()
        self.outbox.put(None)
        if proc is not None:
            try:
                proc.stdin.close()  # the pool kills its children and exits on end of input
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()


def _resolve(future: Future, outcome: ExecResult | BaseException) -> None:
    """Delivers unless the caller gave up (a cancelled arun cancels its future)."""
    try:
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:
        pass


def _to_result(header: dict[str, Any], png: bytes, job: _Job) -> ExecResult:
    durations = {k: float(v) for k, v in header.get("durations", {}).items()}
    durations["total"] = time.monotonic() - job.submitted
    durations["queue"] = max(0.0, durations["total"] - durations.get("run", 0.0))
    return ExecResult(
        status=Status(header["status"]), png=png or None, width=int(header.get("width", 0)),
        height=int(header.get("height", 0)), trace=header.get("trace"),
        stdout_tail=header.get("stdout", ""), stderr_tail=header.get("stderr", ""),
        traceback_tail=header.get("traceback", ""), error=header.get("error", ""),
        durations=durations)


def _pool_died(job: _Job, closing: bool) -> ExecResult:
    why = ("the Sandbox was closed while the program waited or ran" if closing else
           "the sandbox pool died twice while running this program; it was restarted")
    return ExecResult(status=Status.KILLED, error=why,
                      durations={"total": time.monotonic() - job.submitted})


class Sandbox:
    """A warm, isolated pool that runs matplotlib programs and returns their images.

    `workers` programs run at once; more wait in a queue. Use as a context manager or call
    close(); a Sandbox that is garbage-collected or alive at exit is closed for you.
    Every layer is required: where bubblewrap, the drop to an unprivileged user or seccomp
    cannot work, run() and info() raise ConfinementError saying what to do. `unconfined=True`
    is the caller's explicit acceptance of running programs without the layers this machine
    lacks (the others still apply); info()["confined"] says which way the pool started.
    """

    def __init__(self, limits: Limits | None = None, workers: int = 1, *, unconfined: bool = False) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.limits = limits or Limits()
        self.workers = workers
        self._state = _State(self.limits, workers, bool(unconfined))
        for target, name in ((self._state.supervise, "sandbox-supervisor"),
                             (self._state.write_jobs, "sandbox-writer")):
            threading.Thread(target=target, daemon=True, name=name).start()
        self._finalizer = weakref.finalize(self, self._state.close)

    def run(self, code: str, trace: bool = False) -> ExecResult:
        return self._state.submit(code, trace).result()

    async def arun(self, code: str, trace: bool = False) -> ExecResult:
        return await asyncio.wrap_future(self._state.submit(code, trace))

    def info(self, timeout: float = _READY_TIMEOUT_S) -> dict[str, Any]:
        """How the pool was set up (waits until it is ready): layers, reasons, timings."""
        state = self._state
        with state.cond:
            if not state.cond.wait_for(lambda: state.ready or state.fatal or state.closing, timeout):
                raise SandboxStartError(f"the sandbox pool was not ready after {timeout:g} s")
            if state.fatal is not None:
                raise state.fatal
            if state.closing:
                raise SandboxClosed("this Sandbox is closed")
            launch = state.launch
            return {**state.ready, "jailed": launch.jailed, "jail_detail": launch.detail,
                    "confined": launch.jailed and not state.ready["missing"],
                    "restarts": state.restarts, "pool_pid_host": state.proc.pid if state.proc else None}

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox(workers={self.workers}, limits={self.limits})"


