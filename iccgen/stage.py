"""What one pipeline stage of a job did: the runner fills it, the display shows it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class StageResult:
    pipeline: str
    planned: int = 0
    skipped: int = 0
    committed: int = 0
    rows: int = 0
    shortfall: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    failed: dict[str, str] = field(default_factory=dict)
