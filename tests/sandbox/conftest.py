"""One shared pool for the sandbox tests: starting one costs seconds, running a program ~0.1 s."""
from __future__ import annotations

import os
from typing import Callable

import pytest

from sandbox import Limits, Sandbox

# Planted before any pool starts: no program may ever see it.
SECRET = "iccgen-test-secret-7f3a9c"
os.environ["ICCGEN_SANDBOX_TEST_SECRET"] = SECRET

NORMAL = """
import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 1, 50)
plt.plot(x, x ** 2, color="red")
plt.title("still works")
"""

TEST_LIMITS = Limits(cpu_seconds=3, wall_seconds=4, memory_mb=512, file_size_mb=4)


@pytest.fixture(scope="session")
def secret() -> str:
    return SECRET


@pytest.fixture(scope="session")
def sb():
    with Sandbox(TEST_LIMITS, workers=2) as pool:
        pool.info()
        yield pool


@pytest.fixture(scope="session")
def info(sb) -> dict:
    return sb.info()


@pytest.fixture(scope="session")
def still_works() -> Callable[[Sandbox], None]:
    """The check after every adversarial case: the same pool renders a normal program."""

    def check(pool: Sandbox) -> None:
        r = pool.run(NORMAL, trace=True)
        assert r.ok, (r.status, r.error, r.traceback_tail)
        assert (r.width, r.height) == (800, 600)
        assert r.trace["summary"]["titles"] == ["still works"]

    return check


@pytest.fixture(scope="session")
def normal_program() -> str:
    return NORMAL

