"""The triplet schema: one row of an ICC dataset, as a dataclass and as an Arrow schema.

The image column uses the Hugging Face `Image` layout (struct of bytes and path) and every shard
carries the `huggingface` features metadata, so `datasets`, Ray Data, pandas and pyarrow all read
the shards unchanged. Columns that vary by pipeline (QC scores, trace summary, pipeline-specific
lineage) are JSON strings so adding a field never changes the Arrow schema.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pyarrow as pa

IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("pipeline", pa.string()),
        ("image", IMAGE_TYPE),
        ("caption", pa.string()),
        ("code", pa.string()),
        ("code_target", pa.string()),
        ("phash", pa.uint64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("unit", pa.int32()),
        ("item", pa.int32()),
        ("variant", pa.int32()),
        ("attempt", pa.int32()),
        ("source_id", pa.string()),
        ("parent_id", pa.string()),
        ("model", pa.string()),
        ("prompt_version", pa.string()),
        ("family", pa.string()),
        ("template", pa.string()),
        ("params", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("qc", pa.string()),
        ("trace", pa.string()),
        ("meta", pa.string()),
    ]
)

_HF_DTYPES = {pa.string(): "string", pa.uint64(): "uint64", pa.int32(): "int32"}


def hf_features() -> dict[str, Any]:
    """The `datasets.Features` dict for SCHEMA, as `datasets` stores it in Parquet metadata."""
    features: dict[str, Any] = {}
    for f in SCHEMA:
        if f.type == IMAGE_TYPE:
            features[f.name] = {"_type": "Image"}
        else:
            features[f.name] = {"dtype": _HF_DTYPES[f.type], "_type": "Value"}
    return features


SCHEMA_WITH_HF = SCHEMA.with_metadata(
    {b"huggingface": json.dumps({"info": {"features": hf_features()}}).encode()}
)

JSON_COLUMNS = ("params", "qc", "trace", "meta")

#: A unit's sampled rejected candidates (`OUT/_rejects/<pipeline>/part-<unit>.parquet`), with
#: the program and rendering each reject judged; the image has the same layout as a row's.
REJECTS_SCHEMA = pa.schema(
    [
        ("pipeline", pa.string()),
        ("unit", pa.int32()),
        ("item", pa.int32()),
        ("attempt", pa.int32()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("code", pa.string()),
        ("image", IMAGE_TYPE),
    ]
)


def rejects_table(pipeline: str, unit: int, evidence: list[dict[str, Any]]) -> pa.Table:
    """`UnitStats.evidence` -> a table with REJECTS_SCHEMA (image null when nothing was drawn)."""
    rows = [{"pipeline": pipeline, "unit": unit, "item": e["item"], "attempt": e["attempt"],
             "reason": e["reason"], "detail": e["detail"], "code": e["code"],
             "image": {"bytes": e["png"], "path": None} if e.get("png") else None}
            for e in evidence]
    return pa.Table.from_pylist(rows, schema=REJECTS_SCHEMA)


def triplet_id(pipeline: str, unit: int, item: int, variant: int = 0) -> str:
    """Deterministic id: the same job config always names the same row the same way."""
    return f"{pipeline}-u{unit:05d}-i{item:05d}-v{variant:02d}"


@dataclass
class Triplet:
    """One kept row. JSON columns hold plain dicts here and are encoded in `to_table`."""

    id: str
    pipeline: str
    png: bytes
    caption: str
    code: str
    phash: int
    width: int
    height: int
    unit: int
    item: int
    variant: int = 0
    attempt: int = 0
    source_id: str | None = None
    parent_id: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    family: str | None = None
    template: str | None = None
    params: dict[str, Any] | None = None
    question: str | None = None
    answer: str | None = None
    #: the explanatory image-to-code target (paper §3.3), holding `code` verbatim
    code_target: str | None = None
    qc: dict[str, Any] = field(default_factory=dict)
    trace: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        rec = asdict(self)
        png = rec.pop("png")
        rec["image"] = {"bytes": png, "path": f"{self.id}.png"}
        for name in JSON_COLUMNS:
            value = rec[name]
            rec[name] = None if value is None else json.dumps(value, sort_keys=True, default=str)
        return rec


def to_table(triplets: list[Triplet]) -> pa.Table:
    """Rows -> an Arrow table with SCHEMA and the Hugging Face features metadata."""
    return pa.Table.from_pylist([t.to_record() for t in triplets], schema=SCHEMA_WITH_HF)


def from_record(rec: dict[str, Any]) -> Triplet:
    """The inverse of `Triplet.to_record`, for code that reads shards back into rows."""
    names = {f.name for f in fields(Triplet)}
    data = {k: v for k, v in rec.items() if k in names}
    data["png"] = (rec.get("image") or {}).get("bytes") or b""
    for name in JSON_COLUMNS:
        if isinstance(data.get(name), str):
            data[name] = json.loads(data[name])
    return Triplet(**data)
