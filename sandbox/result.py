"""The outcome of running one program: a status from a closed set, the image, and diagnostics."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    OK = "ok"
    SYNTAX_ERROR = "syntax_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    NO_FIGURE = "no_figure"
    OUTPUT_TOO_LARGE = "output_too_large"
    KILLED = "killed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ExecResult:
    status: Status
    png: bytes | None = None
    width: int = 0
    height: int = 0
    trace: dict[str, Any] | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    traceback_tail: str = ""
    # One line a person (or a repair prompt) can act on; empty when ok.
    error: str = ""
    durations: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def png_size(self) -> int:
        return len(self.png) if self.png else 0

    def to_dict(self) -> dict[str, Any]:
        """Everything but the PNG bytes, JSON-serialisable (for logs and the CLI)."""
        return {
            "status": self.status.value, "error": self.error, "width": self.width,
            "height": self.height, "png_size": self.png_size, "stdout_tail": self.stdout_tail,
            "stderr_tail": self.stderr_tail, "traceback_tail": self.traceback_tail,
            "durations": dict(self.durations), "trace": self.trace,
        }
