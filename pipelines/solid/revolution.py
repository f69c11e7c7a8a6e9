"""Solids of revolution about a vertical axis, seen from the side and `elev` degrees above.

A stack is a cylinder (possibly of height 0) with a cap below and a cap above: "flat", "cone" or
"hemisphere". On the page the axis is x = 0, the bottom circle is at y = 0 and circles flatten to
ellipses R by R*K (K = sin elev) while heights shrink by C = cos elev. Shared by combined solids
and the cross-sections of cylinders and cones: `outline` gives the drawn curves for label
placement, `setup_lines`/`body_lines` write the program text.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.solid import kernels

CAPS = ("flat", "cone", "hemisphere")


@dataclass(frozen=True)
class Stack:
    r: float
    h1: float  # height of the cylinder (0 for a lone cone)
    bottom: str  # cap below the cylinder
    top: str  # cap above it
    h0: float | None  # height of a cone below
    h2: float | None  # height of a cone above
    elev: float

    @property
    def k(self) -> float:
        return float(np.sin(np.radians(self.elev)))

    @property
    def c(self) -> float:
        return float(np.cos(np.radians(self.elev)))

    def cap_height(self, up: bool) -> float:
        """Page height of the cap above the top circle (or below the bottom one)."""
        cap, h = (self.top, self.h2) if up else (self.bottom, self.h0)
        return {"flat": 0.0, "cone": (h or 0) * self.c, "hemisphere": self.r}[cap]


def _ellipse(s: Stack, y: float, t0: float = 0, t1: float = 2 * np.pi) -> np.ndarray:
    t = np.linspace(t0, t1, 73)
    return np.c_[s.r * np.cos(t), y + s.r * s.k * np.sin(t)]


def _cap_outline(s: Stack, y: float, up: bool) -> list[np.ndarray]:
    sign = 1 if up else -1
    cap = s.top if up else s.bottom
    if cap == "cone":
        apex = y + sign * s.cap_height(up)
        return [np.array([[-s.r, y], [0, apex], [s.r, y]]), np.array([[0, y], [0, apex]])]
    if cap == "hemisphere":
        u = np.linspace(0, np.pi, 37)
        return [np.c_[s.r * np.cos(u), y + sign * s.r * np.sin(u)]]
    return []


def outline(s: Stack) -> list[tuple[tuple, tuple]]:
    """The drawn curves as page segments (for labels that clear them)."""
    top = s.h1 * s.c
    polys = [_ellipse(s, 0), _ellipse(s, top)] + _cap_outline(s, 0, False) + _cap_outline(s, top, True)
    if s.h1:
        polys += [np.array([[-s.r, 0], [-s.r, top]]), np.array([[s.r, 0], [s.r, top]])]
    return [(tuple(a), tuple(b)) for poly in polys for a, b in zip(poly[:-1], poly[1:])]


def setup_lines(s: Stack) -> list[str]:
    lines = [f"R, H1 = {s.r:g}, {s.h1:g}  # radius and height of the cylinder" if s.h1 else f"R = {s.r:g}  # radius"]
    if s.h0:
        lines.append(f"H0 = {s.h0:g}  # height of the cone below")
    if s.h2:
        lines.append(f"H2 = {s.h2:g}  # height of the cone {'above' if s.h1 else ''}".rstrip())
    lines += [f"ELEV = np.radians({s.elev:g})  # seen from the side, this far above",
              "K, C = np.sin(ELEV), np.cos(ELEV)  # circles flatten to ellipses R by R*K; heights shrink by C",
              "HIDDEN = (0, (4, 3))  # dash pattern of hidden lines"]
    return lines


def funcs(s: Stack) -> tuple:
    used = {s.bottom, s.top}
    return ((kernels.arc,) + ((kernels.cone_cap,) if "cone" in used else ())
            + ((kernels.dome_cap,) if "hemisphere" in used else ()))


def body_lines(s: Stack) -> list[str]:
    """Drawing code: the cylinder's sides, then each cap with the visible part of its rim."""
    lines = ["top = H1 * C  # page height of the top circle" if s.h1 else "top = 0  # a cone has no cylinder"]
    if s.h1:
        lines += ["for x in (-R, R):  # sides of the cylinder", '    ax.plot([x, x], [0, top], color="k", lw=1.6)']
        lines += {"flat": ["arc(ax, 0, R, K, np.pi, 2 * np.pi)  # the base: front half seen,",
                           "arc(ax, 0, R, K, 0, np.pi, HIDDEN)  # back half hidden"],
                  "cone": ["cone_cap(ax, 0, R, K, H0 * C, up=False)"],
                  "hemisphere": ["dome_cap(ax, 0, R, K, up=False)"]}[s.bottom]
    lines += {"flat": ["arc(ax, top, R, K, 0, 2 * np.pi)  # the top face, seen whole"],
              "cone": ["cone_cap(ax, top, R, K, H2 * C, up=True)"],
              "hemisphere": ["dome_cap(ax, top, R, K, up=True)"]}[s.top]
    return lines
