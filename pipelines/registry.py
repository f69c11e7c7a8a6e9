"""Pipeline names to what builds them (a class, or a factory choosing one from the config);
imported lazily so a job loads only what it runs."""

from __future__ import annotations

from importlib import import_module

from iccgen.config import JobConfig
from iccgen.unit import Pipeline

_PIPELINES = {
    "solid": "pipelines.solid.pipeline:SolidPipeline",
    "diversity": "pipelines.diversity.pipeline:diversity_pipeline",
    "reproduce": "pipelines.reproduce.pipeline:ReproducePipeline",
}


def get_pipeline(name: str, job: JobConfig) -> Pipeline:
    module, cls = _PIPELINES[name].split(":")
    return getattr(import_module(module), cls)(job)
