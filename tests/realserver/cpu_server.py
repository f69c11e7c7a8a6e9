"""vLLM's CPU build as `iccgen serve --device cpu` runs it: the served endpoint, and starting and
stopping the command the way a user does."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CONTEXT = 4096  # --max-model-len: prompts here take up to about 2,000 tokens
IMAGE_LIMIT = 2  # --limit-mm-per-prompt.image: iccgen sends one image a request
READY_TIMEOUT_S = 900
TIMINGS: dict[str, float] = {}


@dataclass(frozen=True)
class Served:
    url: str
    model: str
    log: Path

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url.removesuffix("/v1") + path, timeout=10) as r:
            return r.read().decode()

    def tokens_served(self) -> tuple[float, float]:
        """vLLM's own counts of prompt and generated tokens so far (its Prometheus /metrics)."""
        text = self.get("/metrics")
        def total(name: str) -> float:
            return sum(float(m) for m in re.findall(rf"^vllm:{name}_total(?:{{[^}}]*}})? (\S+)$", text, re.M))
        return total("prompt_tokens"), total("generation_tokens")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_endpoint(proc: subprocess.Popen, log: Path, deadline: float) -> str:
    """The URL `iccgen serve` prints once vLLM answers /health."""
    while time.monotonic() < deadline:
        found = re.search(r"^ready: (http://\S+/v1)", log.read_text(errors="replace"), re.M)
        if found:
            return found.group(1)
        if proc.poll() is not None:
            pytest.fail(f"iccgen serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        time.sleep(1)
    pytest.fail(f"iccgen serve was not ready in time:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen, log: Path, url: str | None) -> None:
    """Ctrl-C, as a user stops it: iccgen must stop vLLM and exit 0."""
    if proc.poll() is not None:
        return  # it never started: the failure is reported already
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    TIMINGS["stopped on Ctrl-C (s)"] = time.monotonic() - t0
    assert code == 0, log.read_text()[-3000:]
    assert "stopping the vLLM servers" in log.read_text()
    if url is not None:
        with pytest.raises(OSError):  # vLLM went with it
            urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=5)


