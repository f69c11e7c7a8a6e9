"""The sample record and the contract every solid-geometry family fulfils."""
from __future__ import annotations

from dataclasses import dataclass
from math import isqrt
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class SolidSample:
    family: str
    template: str  # family-specific variant, e.g. "cube_net/1-4-1"
    params: dict  # θ, JSON-serialisable
    code: str
    caption: str
    question: str | None
    answer: str | None


class Family(Protocol):
    name: str

    def sample(self, rng: np.random.Generator, difficulty: int) -> dict: ...

    def build(self, params: dict) -> SolidSample: ...


def choose(rng: np.random.Generator, options: list | tuple):
    """One element of `options`, returned as a plain Python value (JSON-safe)."""
    item = options[int(rng.integers(len(options)))]
    return item.item() if isinstance(item, np.generic) else item


def phrase(params: dict, options: list[str], slot: str = "style") -> str:
    """Pick a sentence template by the phrasing index stored in θ, so build() stays pure."""
    return options[params[slot] % len(options)]


def count_word(n: int) -> str:
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
             "eleven", "twelve"]
    return words[n] if 0 <= n < len(words) else str(n)


def join_words(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def grid(rng: np.random.Generator, lo: float, hi: float, step: float) -> float:
    """A value from lo, lo + step, ..., hi: a wide but tidy range (numbers a reader can copy)."""
    n = int(round((hi - lo) / step))
    v = round(lo + step * int(rng.integers(n + 1)), 6)
    return int(v) if float(v).is_integer() else v


def surd(n: int) -> str:
    """√n simplified: 72 -> '6√2', 36 -> '6'."""
    k = max(f for f in range(1, isqrt(n) + 1) if n % (f * f) == 0)
    rest = n // (k * k)
    return str(k) if rest == 1 else f"{'' if k == 1 else k}√{rest}"
