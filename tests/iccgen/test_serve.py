"""`iccgen serve` without GPUs: the vLLM commands it plans (GPU and CPU), and what it says when
vLLM is absent."""

from __future__ import annotations

import argparse
import io
import shutil
import sys

import pytest
from rich.console import Console

from iccgen import serve
from iccgen.errors import UserError


def run_serve(*argv: str) -> str:
    parser = argparse.ArgumentParser()
    serve.add_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", *argv])
    out = io.StringIO()
    assert args.func(args, Console(file=out, width=400)) == 0
    return out.getvalue()


def test_one_server_per_gpu_with_the_recipe_flags():
    servers = serve.plan_servers("Qwen/Qwen3-VL-8B-Instruct", [0, 1], 1, "127.0.0.1", 8000, 32768, [])
    assert [s.port for s in servers] == [8000, 8001] and [s.where for s in servers] == ["GPU(s) 0", "GPU(s) 1"]
    assert servers[1].shell() == (
        "CUDA_VISIBLE_DEVICES=1 vllm serve Qwen/Qwen3-VL-8B-Instruct --host 127.0.0.1 --port 8001 "
        "--max-model-len 32768 --limit-mm-per-prompt.video 0 --tensor-parallel-size 1"
    )


def test_tensor_parallel_groups():
    servers = serve.plan_servers("m", [0, 1, 2, 3], 2, "0.0.0.0", 9000, 8192, ["--x", "1"])
    assert [s.env()["CUDA_VISIBLE_DEVICES"] for s in servers] == ["0,1", "2,3"]
    assert servers[0].command[-4:] == ("--mm-encoder-tp-mode", "data", "--x", "1")
    with pytest.raises(UserError, match="must divide"):
        serve.plan_servers("m", [0, 1, 2], 2, "h", 1, 1, [])


def test_dry_run_prints_the_commands(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    out = run_serve("--dry-run", "--", "--gpu-memory-utilization", "0.8")
    assert "CUDA_VISIBLE_DEVICES=0 vllm serve Qwen/Qwen3-VL-8B-Instruct" in out
    assert "--port 8001" in out and out.count("--gpu-memory-utilization 0.8") == 2


def test_a_dry_run_without_a_gpu_says_the_commands_are_for_another_machine(monkeypatch):
    monkeypatch.setattr(serve, "visible_gpus", lambda: [])
    monkeypatch.setattr(serve, "has_vllm_cpu", lambda python: False)
    out = run_serve("--dry-run", "--gpus", "2")
    assert "CUDA_VISIBLE_DEVICES=1 vllm serve" in out
    assert "note: no NVIDIA GPU is visible here (nvidia-smi found none); these commands are for a " \
           "machine with 2 GPU(s)" in out
    monkeypatch.setattr(serve, "visible_gpus", lambda: [0, 1])
    assert "note:" not in run_serve("--dry-run")


def test_without_vllm_it_says_how_to_install(monkeypatch):
    monkeypatch.setattr(serve.shutil, "which", lambda name: None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv(serve.PYTHON_ENV, raising=False)
    with pytest.raises(UserError) as e:
        run_serve()
    message = str(e.value)
    assert "pip install 'iccgen[serve]'" in message
    assert "vllm serve Qwen/Qwen3-VL-8B-Instruct --host 127.0.0.1 --port 8000" in message


def test_the_cpu_server_has_the_gpu_recipe_and_runs_eager():
    cpu = serve.plan_cpu_server("/models/tiny", "/venv/bin/python", "127.0.0.1", 8000, 4096, 2, ["--x"])
    gpu = serve.plan_servers("/models/tiny", [0], 1, "127.0.0.1", 8000, 4096, [])[0]
    assert cpu.command[:3] == ("/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server")
    assert cpu.command[3:5] == ("--model", "/models/tiny") and cpu.command[-2:] == ("--enforce-eager", "--x")
    recipe = serve.recipe_flags("127.0.0.1", 8000, 4096)
    assert set(recipe) <= set(cpu.command) and set(recipe) <= set(gpu.command)
    assert cpu.env()["VLLM_TARGET_DEVICE"] == "cpu" and cpu.env()["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert cpu.shell().startswith("VLLM_TARGET_DEVICE=cpu VLLM_CPU_KVCACHE_SPACE=2 /venv/bin/python -m")


def test_cpu_dry_run_names_the_python(monkeypatch):
    monkeypatch.setenv(serve.PYTHON_ENV, "/opt/vllm/bin/python")
    out = run_serve("--device", "cpu", "--model", "/models/tiny", "--dry-run")
    assert "/opt/vllm/bin/python -m vllm.entrypoints.openai.api_server --model /models/tiny" in out
    out = run_serve("--device", "cpu", "--python", "/other/python", "--dry-run")
    assert "/other/python -m vllm.entrypoints.openai.api_server" in out


def test_without_gpus_auto_picks_the_cpu_build_where_it_is_installed(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(serve.shutil, "which", lambda name: None)
    monkeypatch.setattr(serve, "has_vllm_cpu", lambda python: python == "/venv/bin/python")
    out = run_serve("--python", "/venv/bin/python", "--dry-run")
    assert "VLLM_TARGET_DEVICE=cpu" in out and "/venv/bin/python -m vllm.entrypoints" in out
    assert "vllm serve" in run_serve("--python", "/plain/python", "--dry-run")


def test_cpu_without_vllm_cpu_says_how_to_install(monkeypatch):
    with pytest.raises(UserError, match="make vllm-venv"):
        run_serve("--device", "cpu", "--python", sys.executable)
    with pytest.raises(UserError, match="--device cpu runs one server"):
        run_serve("--device", "cpu", "--tensor-parallel", "2", "--dry-run")


def test_has_vllm_cpu_asks_the_named_python():
    assert not serve.has_vllm_cpu(sys.executable)  # the test venv has no vllm-cpu
    assert not serve.has_vllm_cpu("/no/such/python")
    assert not serve.has_vllm_cpu(shutil.which("python3") or "python3")  # asked in a subprocess
