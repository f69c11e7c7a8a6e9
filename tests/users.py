"""Running a check as another user: root reads any file whatever its mode, so a test of what an
unreadable file does runs its check in a forked child as uid 65534 (nobody)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="runs a child as another uid, which needs root")


def as_nobody(fn: Callable[[], Any]) -> list:
    """["ok", fn()] from a forked child as nobody, or [type name, message] of what it raised."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and never return into pytest
        os.close(r)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = ["ok", fn()]
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out = [type(e).__name__, str(e)]
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@contextlib.contextmanager
def open_folder() -> Iterator[str]:
    """A folder nobody may enter and read (tmp_path sits under a 0700 one); removed after, modes
    the test took away included."""
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        for root, dirs, _ in os.walk(folder):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(folder)
