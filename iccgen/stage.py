"""What one pipeline stage of a job did: the runner fills it, the display shows it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


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

    def count(self, rows: int, stats: dict[str, Any]) -> None:
        """Add a committed unit: its rows, and the shortfall and rejects its shard's stats hold
        (the stats `iccgen status` sums), whether this run made it or an earlier one."""
        self.rows += rows
        self.shortfall += stats.get("shortfall", 0)
        self.rejects.update(stats.get("rejects", {}))
