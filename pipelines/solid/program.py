"""Assembling the standalone matplotlib program each template emits.

Helper functions that the program needs live as real Python in `kernels.py`; their source text is
copied into the program, so the generator and the emitted program compute with the same code.
"""
from __future__ import annotations

import inspect
import textwrap
from typing import Callable

import numpy as np

HEADER = "import numpy as np\nimport matplotlib.pyplot as plt\n"


def num(x: float, digits: int = 3) -> str:
    """A short literal for a float: no trailing zeros, no '-0'."""
    s = f"{round(float(x), digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def point(p, digits: int = 3) -> str:
    return "(" + ", ".join(num(v, digits) for v in p) + ")"


def sources(*funcs: Callable) -> str:
    return "\n\n\n".join(inspect.getsource(f).rstrip() for f in funcs)


def program(doc: str, setup: str, funcs: tuple[Callable, ...], body: str) -> str:
    """doc (module docstring) + imports + parameter block + helpers + drawing code."""
    parts = ['"""' + doc.strip() + '"""', HEADER.strip(), textwrap.dedent(setup).strip()]
    if funcs:
        parts.append(sources(*funcs))
    parts.append(textwrap.dedent(body).strip() + "\nplt.show()")
    return "\n\n\n".join(parts) + "\n"


def evaluate(snippet: str, name: str):
    """Run a parameter snippet of the emitted program and return one of its names.

    The generator takes numbers such as the projection matrix from the very text it emits, so
    the caption and the figure cannot disagree.
    """
    scope: dict = {"np": np}
    exec(textwrap.dedent(snippet), scope)  # noqa: S102 - our own template text
    return scope[name]
