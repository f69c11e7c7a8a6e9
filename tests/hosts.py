"""Machines that lack a layer the sandbox requires, made on this one for a test."""
from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Iterator

from sandbox.jail import bwrap_status


@contextlib.contextmanager
def failing_bwrap(folder: Path) -> Iterator[None]:
    """A machine whose bubblewrap cannot make namespaces (Docker's default flags, say)."""
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{folder}:{path}"
    bwrap_status.cache_clear()
    try:
        yield
    finally:
        os.environ["PATH"] = path
        bwrap_status.cache_clear()
