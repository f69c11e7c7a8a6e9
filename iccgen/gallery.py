"""`iccgen inspect OUT --html DIR`: a static gallery of sampled rows and rejects, from disk.

Bounded whatever OUT's size: only the `id`, `pipeline` and `family` columns are read to draw
the sample, then only the sampled rows (a pyarrow filter on `id`, pruned by row-group
statistics); rejects come from the rejects files of a bounded sample of units. Images are
written beside the page; the page holds its data as JSON and builds cards with `textContent`,
so nothing a model wrote can run as HTML in it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from rich.console import Console

from iccgen.readers import open_dataset
from iccgen.report import no_rows, open_job, select_pipelines
from iccgen.store import ShardStore

TEMPLATE = Path(__file__).parent / "templates" / "gallery.html"
REJECT_UNITS = 40  # units per pipeline whose rejects files are read
ROW_COLUMNS = ["id", "pipeline", "image", "caption", "code", "code_target", "width", "height",
               "unit", "item", "variant", "attempt", "source_id", "parent_id", "model",
               "prompt_version", "family", "template", "params", "question", "answer", "qc",
               "trace", "meta"]


def _code_html(code: str) -> str:
    return highlight(code, PythonLexer(), HtmlFormatter(nowrap=True))


def sample_ids(out: str, n: int, pipeline: str | None, seed: int) -> list[str]:
    """n ids per pipeline, drawn from the light columns alone."""
    table = open_dataset(out, [pipeline] if pipeline else None).to_table(columns=["id", "pipeline"])
    rng = np.random.default_rng(seed)
    ids: list[str] = []
    for name in sorted(set(table.column("pipeline").to_pylist())):
        mine = table.filter(pc.equal(table.column("pipeline"), name)).column("id").to_pylist()
        ids += [mine[i] for i in sorted(rng.choice(len(mine), size=min(n, len(mine)), replace=False))]
    return ids


def _row(rec: dict[str, Any], images: Path) -> dict[str, Any]:
    (images / f"{rec['id']}.png").write_bytes(rec["image"]["bytes"])
    out = {k: v for k, v in rec.items() if k not in ("image", "code")}
    for name in ("params", "qc", "trace", "meta"):
        out[name] = json.loads(rec[name]) if rec.get(name) else None
    out["img"] = f"img/{rec['id']}.png"
    out["code_html"] = _code_html(rec["code"] or "")
    return out


def _rejects(store: ShardStore, pipelines: list[str], rng: np.random.Generator,
             images: Path) -> list[dict[str, Any]]:
    found = []
    for name in pipelines:
        units = sorted(store.committed_units(name))
        picked = units if len(units) <= REJECT_UNITS else sorted(rng.choice(units, REJECT_UNITS, replace=False))
        for unit in picked:
            table = store.read_rejects(name, int(unit))
            for r in table.to_pylist() if table is not None else []:
                key = f"{name}-u{r['unit']:05d}-i{r['item']:05d}-a{r['attempt']:02d}"
                img = None
                if r["image"] and r["image"]["bytes"]:
                    (images / f"reject-{key}.png").write_bytes(r["image"]["bytes"])
                    img = f"img/reject-{key}.png"
                found.append({"id": key, "pipeline": name, "unit": r["unit"], "item": r["item"],
                              "attempt": r["attempt"], "reason": r["reason"], "detail": r["detail"],
                              "img": img, "code_html": _code_html(r["code"] or "")})
    return found


def write_gallery(out: str, folder: str, n: int, pipeline: str | None, seed: int,
                  console: Console) -> Path:
    store, job = open_job(out)
    pipelines = select_pipelines(out, store, job, [pipeline] if pipeline else None)
    ids = sample_ids(out, n, pipeline, seed)
    if not ids:
        raise no_rows(out, store, job, pipelines)
    root = Path(folder)
    images = root / "img"
    images.mkdir(parents=True, exist_ok=True)
    table = open_dataset(out, pipelines).to_table(columns=ROW_COLUMNS, filter=pc.field("id").isin(ids))
    rows = sorted((_row(r, images) for r in table.to_pylist()), key=lambda r: r["id"])
    rejects = _rejects(store, pipelines, np.random.default_rng(seed), images)
    data = {"out": out, "job": job.get("fingerprint"), "rows": rows, "rejects": rejects,
            "total": open_dataset(out, pipelines).count_rows()}
    page = TEMPLATE.read_text().replace("/*PYGMENTS*/", HtmlFormatter().get_style_defs(".code"))
    # "</" inside the JSON must not close the script element that holds it.
    page = page.replace("/*DATA*/", json.dumps(data, default=str).replace("</", "<\\/"))
    index = root / "index.html"
    index.write_text(page)
    console.print(f"gallery: {index} ({len(rows)} of {data['total']} rows, {len(rejects)} rejects); "
                  f"open it in a browser", highlight=False)
    return index
