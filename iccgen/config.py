"""The job config: a TOML file, overridden by CLI flags, validated by pydantic.

Unknown keys and bad values are refused with the field's dotted name. The fields that change the
output form the job's fingerprint, stored in `OUT/_job.json`, so a resumed job can refuse a
changed config instead of silently mixing two datasets in one folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from iccgen import location
from iccgen.errors import ConfigError

PipelineName = Literal["solid", "diversity", "reproduce"]

# The paper's solid-geometry families (Fig. 2 and footnote 1).
SOLID_FAMILIES = (
    "cube_net",
    "three_view",
    "cube_stack",
    "polyhedron",
    "cross_section",
    "combined_solid",
    "spatial_curve",
    "surface_integral",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _home(path: str | None) -> str | None:
    """`~/seeds` in a TOML file or on the command line (quoted) means the home folder."""
    return os.path.expanduser(path) if path and not location.is_uri(path) else path


class SolidConfig(_Section):
    """Solid Geometry Synthesis: which template families, in what proportion."""

    mix: dict[str, float] | None = Field(
        None,
        description="relative weight of each family; missing or 0 = not drawn; "
        "default: every implemented family equally",
    )
    difficulty: int = Field(1, ge=1, le=3)

    @field_validator("mix")
    @classmethod
    def _known_families(cls, mix: dict[str, float] | None) -> dict[str, float] | None:
        if mix is None:
            return mix
        unknown = sorted(set(mix) - set(SOLID_FAMILIES))
        if unknown:
            raise ValueError(f"unknown families {unknown}; known: {list(SOLID_FAMILIES)}")
        if any(w < 0 for w in mix.values()) or not any(w > 0 for w in mix.values()):
            raise ValueError("weights must be >= 0 and at least one > 0")
        return mix


class DiversityConfig(_Section):
    """Image Diversity: new programs from kept ones."""

    mutator: Literal["ast", "model"] = "ast"
    k: int = Field(10, ge=1, le=1000, description="variations per parent program")
    mutations: int = Field(3, ge=1, le=20, description="AST rewrites per variation")
    source: str | None = Field(
        None,
        alias="from",
        description="an earlier job's output folder, or a folder of .py programs; "
        "default: the earlier pipelines of this job",
    )
    n: int | None = Field(None, ge=1, description="triplets to keep; default: the job's n")
    max_repairs: int = Field(3, ge=0, le=20, description="mutator = 'model': repair rounds")
    prompt_version: str = Field("v1", description="mutator = 'model': pipelines/prompts/diversity/<v>")

    _source_home = field_validator("source")(_home)


class ReproduceConfig(_Section):
    """Image Reproduce: seed images to matplotlib programs."""

    seeds: str | None = Field(None, description="a folder of images or a Parquet table")
    image_column: str = "image"
    max_repairs: int = Field(3, ge=0, le=20)
    min_ssim: float = Field(0.7, ge=0, le=1)
    max_phash_distance: int = Field(20, ge=0, le=64)
    prompt_version: str = Field("v1", description="folder under pipelines/reproduce/prompts")
    n: int | None = Field(None, ge=1)

    _seeds_home = field_validator("seeds")(_home)


class ModelConfig(_Section):
    """An OpenAI-compatible endpoint (vLLM serving Qwen3-VL, or any hosted model)."""

    base_urls: list[str] = Field(default_factory=list)
    model: str = "Qwen/Qwen3-VL-8B-Instruct"
    api_key_env: str = Field("OPENAI_API_KEY", description="NAME of the variable holding the key")
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.8, gt=0, le=1)
    max_tokens: int = Field(4096, ge=16)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(5, ge=0, le=50)
    backoff_s: float = Field(1.0, gt=0, description="first retry delay; doubles, with jitter")
    max_backoff_s: float = Field(30.0, gt=0, description="longest delay between retries")
    concurrency: int = Field(64, ge=1, le=4096, description="requests in flight per worker")

    @model_validator(mode="before")
    @classmethod
    def _single_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "base_url" in data:
            data = dict(data)
            url = data.pop("base_url")
            data["base_urls"] = [url, *data.get("base_urls", [])]
        return data


class DedupConfig(_Section):
    """Near-duplicate filter over the perceptual hashes of kept images."""

    enabled: bool = True
    threshold: int = Field(4, ge=0, le=16, description="max Hamming distance of a near-duplicate")
    shards: int = Field(1, ge=1, le=256, description="index actors (memory scales out on a cluster)")


class SandboxConfig(_Section):
    """How generated programs are executed."""

    workers: int = Field(1, ge=1, le=64, description="sandbox processes per unit worker")
    dpi: int = Field(100, ge=20, le=400)
    figsize: tuple[float, float] = (6.0, 6.0)
    cpu_seconds: float = Field(20, gt=0)
    wall_seconds: float = Field(30, gt=0)
    memory_mb: int = Field(2048, ge=256)
    unconfined: bool = Field(
        False,
        description="run programs WITHOUT the required isolation (bubblewrap, an unprivileged "
        "user, seccomp) where a node cannot provide it; only for trusted programs. Recorded in "
        "_job.json and in every row's meta.sandbox (flag: --unconfined-sandbox)",
    )

    def limits(self):  # -> sandbox.Limits
        """The limits a job's programs run under (its workers, and an eval of its rows)."""
        from sandbox import Limits

        return Limits(cpu_seconds=self.cpu_seconds, wall_seconds=self.wall_seconds,
                      memory_mb=self.memory_mb, figsize=tuple(self.figsize), dpi=self.dpi)


class QcConfig(_Section):
    """Quality control every kept row passes (grounding needs no model)."""

    min_grounding: float = Field(
        1.0, ge=0, le=1,
        description="least share of a caption's checkable claims (numbers, quoted strings, labels, "
        "colours) that facts from the code, its trace and θ must back; rows below are rejected as "
        "'ungrounded'",
    )
    min_claims: int = Field(
        2, ge=0,
        description="least checkable claims a caption must make; one that says too little to be "
        "checked (a refusal, 'a smooth curve') is rejected as 'ungraded'. 0 keeps such captions, "
        "recorded with no grounding score",
    )
    judges: list[Literal["code", "image", "consistency"]] = Field(
        default_factory=list,
        description="model judges (paper Supp. A) asked about every candidate through [model]; a "
        "Disqualified, Fail or Fundamental Mismatch verdict rejects it as 'judge:<name>'",
    )


class TargetsConfig(_Section):
    """Training targets beyond the native (image, code) pair: paper §3.2 and §3.3."""

    refine_captions: bool = Field(
        True,
        description="model pipelines: a draft caption of the image is corrected against the "
        "program and its execution trace (draft -> analysis -> refine) before the grounding check",
    )
    code_targets: bool = Field(
        True,
        description="store an explanatory image-to-code target (what the image shows, numbered "
        "steps, the ground-truth program verbatim, usage notes): written by the model in model "
        "pipelines, from the program's own structure otherwise",
    )
    prompt_version: str = Field("v1", description="folder under pipelines/prompts/targets")

    def uses_prompts(self) -> bool:
        """Whether a model pipeline asks the targets prompts at all (rows then record their
        version)."""
        return self.refine_captions or self.code_targets


class OutputConfig(_Section):
    """Where shards go, beyond the `out` location itself."""

    allow_nonatomic: bool = Field(
        False,
        description="accept an output filesystem other than local, S3 or GCS, on which a killed "
        "writer may leave a partial shard that looks committed (recorded in _job.json)",
    )


class JobConfig(_Section):
    """One job: which pipelines, how many triplets, where they go."""

    out: str = Field("out", description="output folder or URI (s3://, gs://)")
    pipelines: list[PipelineName] = Field(default_factory=lambda: ["solid"], min_length=1)
    n: int = Field(200, ge=1, description="triplets to keep per pipeline")
    seed: int = Field(0, ge=0)
    shard_size: int = Field(25, ge=1, le=100_000, description="items per work unit and shard")
    max_attempts: int = Field(5, ge=1, le=100, description="candidates drawn per item")
    workers: int = Field(0, ge=0, description="unit workers (Ray actors); 0 = one per core")
    address: str | None = Field(None, description="Ray cluster address; default local Ray")
    max_in_flight: int = Field(0, ge=0, description="units in flight; 0 = 2 per worker")
    lease_stale_s: float = Field(
        90, ge=1, le=86_400,
        description="a driver's lease on OUT whose heartbeat is older than this is taken over",
    )
    solid: SolidConfig = Field(default_factory=SolidConfig)
    diversity: DiversityConfig = Field(default_factory=DiversityConfig)
    reproduce: ReproduceConfig = Field(default_factory=ReproduceConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    qc: QcConfig = Field(default_factory=QcConfig)
    targets: TargetsConfig = Field(default_factory=TargetsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("pipelines")
    @classmethod
    def _distinct(cls, pipelines: list[str]) -> list[str]:
        if len(set(pipelines)) != len(pipelines):
            raise ValueError("each pipeline may appear once")
        return pipelines

    @model_validator(mode="after")
    def _judges_have_a_model(self) -> "JobConfig":
        # Checked here, not when the first candidate reaches a judge inside a worker.
        if self.qc.judges and not self.model.base_urls:
            raise ValueError(
                "qc.judges asks a model about every candidate, but no endpoint is set: pass "
                "--endpoint URL (start one with `iccgen serve`) or set base_url under [model]"
            )
        return self

    def n_for(self, pipeline: str) -> int:
        section = getattr(self, pipeline)
        return getattr(section, "n", None) or self.n

    def output_fields(self) -> dict[str, Any]:
        """The fields that change what is written; run-time placement is left out."""
        data = self.model_dump(mode="json", by_alias=True)
        for key in ("out", "output", "workers", "address", "max_in_flight", "lease_stale_s"):
            data.pop(key)
        for key in ("base_urls", "api_key_env", "timeout_s", "max_retries", "backoff_s",
                    "max_backoff_s", "concurrency"):
            data["model"].pop(key)
        data["sandbox"].pop("workers")
        data["dedup"].pop("shards")
        return data

    def fingerprint(self) -> str:
        canonical = json.dumps(self.output_fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def config_keys() -> list[str]:
    """Every key a job file may hold, top level first, then "[section] key key ...": for --help."""
    top, sections = [], []
    for name, f in JobConfig.model_fields.items():
        if isinstance(f.annotation, type) and issubclass(f.annotation, _Section):
            keys = [sub.alias or key for key, sub in f.annotation.model_fields.items()]
            sections.append(f"[{name}] " + " ".join(keys))
        else:
            top.append(name)
    return [", ".join(top), *sections]


def _describe(err: ValidationError, origin: str) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    if not where:  # a check across keys says in its message which keys it means
        return f"{origin}: {msg}{more}"
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{where}' (check the spelling; see `iccgen run --help`)"
    got = first.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    return f"{origin}: bad value for '{where}': {msg}{shown}{more}"


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        return tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror}") from None


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> JobConfig:
    """Read a TOML job file (optional) and apply overrides (None values are ignored)."""
    data = read_toml(path) if path else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    origin = str(path) if path else "job config"
    if given:
        origin = f"{origin} + flags" if path else "flags"
    try:
        return JobConfig.model_validate(_merge(data, given))
    except ValidationError as e:
        raise ConfigError(_describe(e, origin)) from None


def diff_fields(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two `output_fields()` dumps."""
    names = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            names += diff_fields(a, b, f"{prefix}{key}.")
        elif a != b:
            names.append(f"{prefix}{key}")
    return names
