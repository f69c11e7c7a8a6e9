"""`iccgen serve --cluster --dry-run`: the Ray Serve LLM config, checked against Ray's own models.

Ray Serve LLM imports vLLM, so the checks against `ray.serve.llm` and vLLM's engine arguments
run only where the serve extra is installed; the rest runs everywhere.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from iccgen.cli import main
from iccgen.serve_cluster import serve_config

RAYSERVICE = Path(__file__).resolve().parents[2] / "docker" / "kuberay" / "rayservice.yaml"
MODEL = "Qwen/Qwen3-VL-8B-Instruct"


def _dry_run(capsys: pytest.CaptureFixture, *flags: str) -> dict:
    assert main(["serve", "--cluster", "--dry-run", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def _llm(config: dict) -> dict:
    (app,) = config["applications"]
    assert app["import_path"] == "ray.serve.llm:build_openai_app"
    (llm,) = app["args"]["llm_configs"]
    return llm


def test_dry_run_carries_the_qwen3_vl_recipe(capsys: pytest.CaptureFixture) -> None:
    llm = _llm(_dry_run(capsys, "--replicas", "3", "--tensor-parallel", "2"))
    assert llm["model_loading_config"]["model_id"] == MODEL
    assert llm["deployment_config"] == {"num_replicas": 3}
    assert llm["engine_kwargs"] == {
        "tensor_parallel_size": 2, "max_model_len": 32768, "limit_mm_per_prompt": {"video": 0},
        "mm_encoder_tp_mode": "data", "mm_processor_cache_gb": 0, "async_scheduling": True}


def test_one_gpu_per_replica_keeps_the_encoder_whole(capsys: pytest.CaptureFixture) -> None:
    assert "mm_encoder_tp_mode" not in _llm(_dry_run(capsys))["engine_kwargs"]


def test_vllm_flags_after_dashes_are_refused_with_cluster(capsys: pytest.CaptureFixture) -> None:
    assert main(["serve", "--cluster", "--dry-run", "--", "--enforce-eager"]) == 2
    assert "engine_kwargs" in capsys.readouterr().err


def test_rayservice_serves_what_the_dry_run_prints() -> None:
    manifest = yaml.safe_load(RAYSERVICE.read_text())
    served = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    assert served["applications"] == serve_config(MODEL, 2, 1, 32768, None, 8000)["applications"]


def test_config_is_a_valid_serve_deploy_file() -> None:
    schema = pytest.importorskip("ray.serve.schema", reason="needs ray[serve]")
    schema.ServeDeploySchema.model_validate(serve_config(MODEL, 2, 2, 32768, "H100", 8000))


def test_llm_configs_validate_against_ray_serve_llm_and_vllm() -> None:
    llm = pytest.importorskip("ray.serve.llm", reason="Ray Serve LLM needs the serve extra (vLLM)")
    from vllm.engine.arg_utils import AsyncEngineArgs

    args = serve_config(MODEL, 2, 2, 32768, "H100", 8000)["applications"][0]["args"]
    (parsed,) = llm.LLMServingArgs.model_validate(args).llm_configs
    assert parsed.accelerator_type == "H100"
    assert parsed.engine_kwargs["limit_mm_per_prompt"] == {"video": 0}
    engine = AsyncEngineArgs(model=MODEL, **parsed.engine_kwargs)
    assert (engine.mm_encoder_tp_mode, engine.mm_processor_cache_gb, engine.async_scheduling) == ("data", 0, True)
    with pytest.raises(ValueError):  # the model forbids unknown fields: a typo cannot pass
        llm.LLMConfig(model_loading_config={"model_id": MODEL}, engine_kwarg={})
    field_names = {f.name for f in dataclasses.fields(AsyncEngineArgs)}
    assert set(parsed.engine_kwargs) <= field_names
