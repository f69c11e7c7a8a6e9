"""`iccgen serve` without GPUs: the vLLM commands it plans, and what it says when vLLM is absent."""

from __future__ import annotations

import argparse
import io

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
    assert [s.port for s in servers] == [8000, 8001] and [s.gpus for s in servers] == [(0,), (1,)]
    assert servers[1].shell() == (
        "CUDA_VISIBLE_DEVICES=1 vllm serve Qwen/Qwen3-VL-8B-Instruct --host 127.0.0.1 --port 8001 "
        "--tensor-parallel-size 1 --max-model-len 32768 --limit-mm-per-prompt.video 0"
    )


def test_tensor_parallel_groups():
    servers = serve.plan_servers("m", [0, 1, 2, 3], 2, "0.0.0.0", 9000, 8192, ["--x", "1"])
    assert [s.gpus for s in servers] == [(0, 1), (2, 3)]
    assert servers[0].command[-4:] == ("--mm-encoder-tp-mode", "data", "--x", "1")
    with pytest.raises(UserError, match="must divide"):
        serve.plan_servers("m", [0, 1, 2], 2, "h", 1, 1, [])


def test_dry_run_prints_the_commands(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    out = run_serve("--dry-run", "--", "--gpu-memory-utilization", "0.8")
    assert "CUDA_VISIBLE_DEVICES=0 vllm serve Qwen/Qwen3-VL-8B-Instruct" in out
    assert "--port 8001" in out and out.count("--gpu-memory-utilization 0.8") == 2


def test_without_vllm_it_says_how_to_install(monkeypatch):
    monkeypatch.setattr(serve.shutil, "which", lambda name: None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(UserError) as e:
        run_serve()
    message = str(e.value)
    assert "pip install 'iccgen[serve]'" in message
    assert "vllm serve Qwen/Qwen3-VL-8B-Instruct --host 127.0.0.1 --port 8000" in message
