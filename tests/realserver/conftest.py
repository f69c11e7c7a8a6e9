"""The real-server suite's fixtures: a tiny Qwen3-VL, built once and cached, served for the whole
session by `iccgen serve --device cpu` (vLLM's CPU build), stopped as Ctrl-C stops it.

`make test-vllm` creates the vLLM venv and names its python in $ICCGEN_VLLM_PYTHON.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cpu_server import CONTEXT, HERE, IMAGE_LIMIT, READY_TIMEOUT_S, TIMINGS, Served, free_port, stop, \
    wait_for_endpoint

from iccgen.serve import PYTHON_ENV


@pytest.fixture(scope="session")
def vllm_python() -> str:
    python = os.environ.get(PYTHON_ENV)
    if not python or not Path(python).exists():
        pytest.fail(f"the real-server suite needs vLLM's CPU build: run `make test-vllm`, or set "
                    f"{PYTHON_ENV} to the python of a venv made by tests/realserver/setup_vllm.sh")
    return python


@pytest.fixture(scope="session")
def tiny_model(vllm_python: str) -> Path:
    t0 = time.monotonic()
    done = subprocess.run([vllm_python, str(HERE / "tiny_qwen3vl.py")], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    TIMINGS["tiny model built or found (s)"] = time.monotonic() - t0
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def served(vllm_python: str, tiny_model: Path, tmp_path_factory) -> Served:
    log = tmp_path_factory.mktemp("vllm") / "serve.log"
    command = [sys.executable, "-m", "iccgen.cli", "serve", "--device", "cpu", "--python", vllm_python,
               "--model", str(tiny_model), "--port", str(free_port()), "--max-model-len", str(CONTEXT),
               "--ready-timeout", str(READY_TIMEOUT_S), "--", "--limit-mm-per-prompt.image",
               str(IMAGE_LIMIT)]
    t0 = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = None
    try:
        url = wait_for_endpoint(proc, log, t0 + READY_TIMEOUT_S + 60)
        TIMINGS["iccgen serve --device cpu ready (s)"] = time.monotonic() - t0
        yield Served(url, str(tiny_model), log)
    finally:
        stop(proc, log, url)


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        terminalreporter.section("real-server timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.1f}")
