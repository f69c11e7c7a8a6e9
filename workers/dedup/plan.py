"""How the 64 bits are split into fields and how far each is probed (see `index`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb

# Per field and row a segment holds an 8 B hash and at most 4 B of bucket offsets; with 4 B of
# row order and ~6 B of id per row, 4 fields (58 B at worst) is what the 64 B/hash budget allows.
_MAX_FIELDS = 4
_MAX_FIELD_BITS = 21  # segments key on at most log2(size) bits: wider only pays past 2M hashes
# A probe opens a bucket at a random place (a likely cache miss) while candidates are read in
# sequence, so a probe is priced as 30 candidates of uniform hashes: at threshold 4 any price
# from 10 to 50 picks the 4-field plans that measured fastest at one million.
_PROBE_COST = 30


@dataclass(frozen=True)
class Plan:
    """Field layout for one threshold: `fields` widths (bits) and the probe radius of each.

    Exact when sum(radius + 1) > threshold: a pair farther than its radius in every field
    differs in at least that many bits (pigeonhole).
    """

    fields: tuple[int, ...]
    radii: tuple[int, ...]

    @property
    def starts(self) -> tuple[int, ...]:
        return tuple(itertools.accumulate((0,) + self.fields[:-1]))


def plan_for(threshold: int, n_ref: int = 1 << 20) -> Plan:
    """The layout with the least modelled query cost at about n_ref hashes: for each field
    count, radii as even as pigeonhole allows, and the fields probed one bit wider given a
    width of their own (a radius-1 field wants more bits than an exact one)."""
    plans = []
    for m in range(1, _MAX_FIELDS + 1):
        need = threshold + 1
        radii = tuple(max(0, need // m - 1 + (i < need % m)) for i in range(m))
        wide = sum(r > radii[-1] for r in radii)
        for w in range(1, _MAX_FIELD_BITS + 1) if 0 < wide < m else [0]:
            plans.append(Plan((w,) * wide + _split(64 - wide * w, m - wide), radii))
    return min(plans, key=lambda p: _cost(p, n_ref))


def _split(bits: int, m: int) -> tuple[int, ...]:
    return tuple(min(_MAX_FIELD_BITS, bits // m + (i < bits % m)) for i in range(m))


def _cost(plan: Plan, n_ref: int) -> float:
    """Probes plus expected candidates per query, in candidates (uniform hashes)."""
    cost = 0.0
    for width, radius in zip(plan.fields, plan.radii):
        bits = min(width, n_ref.bit_length() - 1)
        cost += sum(comb(bits, i) for i in range(radius + 1)) * (_PROBE_COST + n_ref / 2**bits)
    return cost
