"""The attacks again, as an unprivileged user: there every program shares one uid.

Needs root to create the user (CI and this project's machines run as root); elsewhere the
suite already runs unprivileged.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None or not Path("/usr/bin/python3").exists(),
    reason="creating a test user needs root, useradd and a world-readable /usr/bin/python3")


def test_attacks_fail_as_an_unprivileged_user():
    done = subprocess.run(
        [str(ROOT / "tests" / "unprivileged.sh"), "tests/sandbox/test_sandbox_confinement.py",
         "tests/sandbox/test_sandbox_adversarial.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) >= 10, done.stdout[-500:]
