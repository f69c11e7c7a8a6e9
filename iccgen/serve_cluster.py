"""`iccgen serve --cluster`: Qwen3-VL replicas across a Ray cluster's GPU nodes, with Ray Serve LLM.

The configuration is a Ray Serve config file (the `applications` list that `serve deploy` and a
KubeRay RayService's `serveConfigV2` take), so what `--dry-run` prints is exactly what runs.
The vLLM engine options follow the Qwen3-VL recipe: images only (no video), the small vision
encoder replicated across tensor-parallel ranks, no multimodal preprocessing cache (our images
are mostly unique), and asynchronous scheduling.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rich.console import Console

from iccgen.errors import UserError

APP_NAME = "iccgen-llm"
IMPORT_PATH = "ray.serve.llm:build_openai_app"


def engine_kwargs(tensor_parallel: int, max_model_len: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "tensor_parallel_size": tensor_parallel,
        "max_model_len": max_model_len,
        "limit_mm_per_prompt": {"video": 0},
        "mm_processor_cache_gb": 0,
        "async_scheduling": True,
    }
    if tensor_parallel > 1:
        kwargs["mm_encoder_tp_mode"] = "data"
    return kwargs


def llm_config(model: str, replicas: int, tensor_parallel: int, max_model_len: int,
               accelerator_type: str | None) -> dict[str, Any]:
    """One LLMConfig, as a dict (ray.serve.llm validates it when the app is built)."""
    config: dict[str, Any] = {
        "model_loading_config": {"model_id": model, "model_source": model},
        "engine_kwargs": engine_kwargs(tensor_parallel, max_model_len),
        "deployment_config": {"num_replicas": replicas},
    }
    if accelerator_type:
        config["accelerator_type"] = accelerator_type
    return config


def serve_config(model: str, replicas: int, tensor_parallel: int, max_model_len: int,
                 accelerator_type: str | None, port: int) -> dict[str, Any]:
    if replicas < 1 or tensor_parallel < 1:
        raise UserError("--replicas and --tensor-parallel must be at least 1")
    return {
        "http_options": {"host": "0.0.0.0", "port": port},
        "applications": [{
            "name": APP_NAME,
            "route_prefix": "/",
            "import_path": IMPORT_PATH,
            "args": {"llm_configs": [
                llm_config(model, replicas, tensor_parallel, max_model_len, accelerator_type)]},
        }],
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", action="store_true",
                   help="deploy with Ray Serve LLM across the GPU nodes of a Ray cluster")
    p.add_argument("--address", help="--cluster: Ray cluster to join (default: $RAY_ADDRESS, else auto)")
    p.add_argument("--replicas", type=int,
                   help="--cluster: model replicas (default: the cluster's GPUs / --tensor-parallel)")
    p.add_argument("--accelerator-type", help="--cluster: GPU type to place replicas on, e.g. H100")


def cmd_serve_cluster(args: argparse.Namespace, console: Console) -> int:
    if [a for a in args.vllm_args if a != "--"]:
        raise UserError("with --cluster, vLLM options go in the printed config's engine_kwargs: "
                        "run with --dry-run, edit, and deploy it with `serve deploy FILE`")
    if args.dry_run:
        config = serve_config(args.model, args.replicas or 1, args.tensor_parallel,
                              args.max_model_len, args.accelerator_type, args.port)
        if args.replicas is None:
            console.print("replicas: 1 shown; a deployment uses the cluster's GPUs / --tensor-parallel")
        print(json.dumps(config, indent=2))
        return 0
    return deploy(args, console)


def deploy(args: argparse.Namespace, console: Console) -> int:
    try:
        import ray
        from ray import serve
        from ray.serve.llm import LLMConfig, build_openai_app
    except ImportError as exc:
        raise UserError(f"Ray Serve LLM is not installed here ({exc}): install the serve extra, "
                        "pip install 'iccgen[serve]', on the machine that deploys") from exc
    address = args.address or os.environ.get("RAY_ADDRESS") or "auto"
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, TimeoutError) as exc:
        raise UserError(f"no Ray cluster at {address} ({exc}): start one (see README, "
                        "Deploying) or pass --address HEAD:6379") from exc
    gpus = int(ray.cluster_resources().get("GPU", 0))
    replicas = args.replicas or gpus // args.tensor_parallel
    if replicas < 1 or gpus < replicas * args.tensor_parallel:
        raise UserError(f"the cluster has {gpus} GPU(s): too few for {replicas or 1} replica(s) of "
                        f"{args.tensor_parallel} GPU(s) each; add GPU workers or lower --replicas")
    config = serve_config(args.model, replicas, args.tensor_parallel, args.max_model_len,
                          args.accelerator_type, args.port)
    app_spec = config["applications"][0]
    app = build_openai_app({"llm_configs": [LLMConfig(**c) for c in app_spec["args"]["llm_configs"]]})
    serve.start(http_options=config["http_options"])
    console.print(f"deploying {replicas} replica(s) of {args.model} on {gpus} GPU(s); "
                  "the first load of the weights takes minutes")
    serve.run(app, name=APP_NAME, route_prefix=app_spec["route_prefix"])
    url = f"http://{ray.util.get_node_ip_address()}:{args.port}/v1"
    print(url, file=sys.stdout)
    console.print(f"[green]ready[/green]: {url}  (it keeps running; stop it with `serve shutdown`)\n"
                  f"run a job against it:\n  iccgen run --pipeline reproduce --seeds SEEDS "
                  f"--endpoint {url} --model {args.model} --out OUT", highlight=False)
    return 0
