"""docker/entrypoint.sh on this machine: it runs the command only when `iccgen doctor` passes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ENTRYPOINT = Path(__file__).resolve().parents[2] / "docker" / "entrypoint.sh"

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


def _entrypoint(tmp_path: Path, path_first: Path | None = None) -> subprocess.CompletedProcess:
    bins = [str(Path(sys.executable).parent)] + ([str(path_first)] if path_first else [])
    env = {**os.environ, "PATH": os.pathsep.join(bins[::-1] + [os.environ["PATH"]])}
    marker = tmp_path / "ran"
    return subprocess.run([str(ENTRYPOINT), "touch", str(marker)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_runs_the_command_when_confined(tmp_path: Path) -> None:
    done = _entrypoint(tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ran").exists()


def test_stops_when_bubblewrap_cannot_make_namespaces(tmp_path: Path) -> None:
    # What a container started without the flags looks like: bwrap is there but fails.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    done = _entrypoint(tmp_path, path_first=fake)
    assert done.returncode == 1
    assert "nothing was started" in done.stderr and "bubblewrap" in done.stderr
    assert not (tmp_path / "ran").exists()
