"""Resource limits and rendering settings applied to every program a Sandbox runs."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

FigurePolicy = Literal["last", "first"]


@dataclass(frozen=True)
class Limits:
    """What one program may use, and how its figure is rendered.

    Defaults suit model-written STEM plots: such a program renders in well under a second, so
    generous CPU and wall budgets only matter for programs that are broken.
    """

    cpu_seconds: float = 20.0
    wall_seconds: float = 30.0
    # Address space the program may add on top of the warm interpreter it is forked from
    # (about 350 MB of mappings that are shared, copy-on-write, with the pool).
    memory_mb: int = 2048
    file_size_mb: int = 16
    # RLIMIT_NPROC counts threads too, and every child runs as the same user.
    max_processes: int = 64
    max_open_files: int = 64
    # Applied through rcParams before the program runs; a program choosing its own size keeps it.
    figsize: tuple[float, float] = (8.0, 6.0)
    dpi: int = 100
    # Above this many pixels the DPI is scaled down so the image fits.
    max_pixels: int = 4_000_000
    max_png_bytes: int = 4 * 1024 * 1024
    # Which figure becomes the image when a program makes several: figures handed to
    # savefig/show count first, in call order; otherwise the open figures in creation order.
    figure_policy: FigurePolicy = "last"
    tail_chars: int = 4000
    max_trace_bytes: int = 200_000
    max_code_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        positive = ("cpu_seconds", "wall_seconds", "memory_mb", "file_size_mb", "max_processes",
                    "max_open_files", "dpi", "max_pixels", "max_png_bytes", "tail_chars",
                    "max_trace_bytes", "max_code_bytes")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")
        if self.max_open_files < 16:
            raise ValueError("Limits.max_open_files below 16 breaks matplotlib's font loading; use >= 16")
        if self.figure_policy not in ("last", "first"):
            raise ValueError(f"Limits.figure_policy must be 'last' or 'first', got {self.figure_policy!r}")
        if len(self.figsize) != 2 or min(self.figsize) <= 0:
            raise ValueError(f"Limits.figsize must be two positive inches (w, h), got {self.figsize!r}")
        if self.max_trace_bytes < 10_000:
            raise ValueError("Limits.max_trace_bytes must be at least 10000 to hold a trace summary")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Limits":
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        if "figsize" in values:
            values["figsize"] = tuple(values["figsize"])
        return cls(**values)
